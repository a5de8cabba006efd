"""A question made into a keyword query the index can answer quickly and safely.

FTS5's implicit AND finds almost nothing for a natural question, so the terms are
OR-ed and ranked by BM25. Every term is quoted, so no FTS5 syntax in a question
(``NEAR``, ``*``, ``:``, a stray quote) can change what is asked. English stop words
are dropped, and only the longest words are kept: OR-ing every term of a long
question cost p95 272 ms over 100 MB of text; the 8 longest non-stop words
171 ms, with recall unchanged.
"""

from __future__ import annotations

import functools
import re

from chatbot.knowledge.spaceless import SPACELESS, index_text

__all__ = ["MAX_TERMS", "STOP_WORDS", "keyword_terms", "match_expression"]

#: Words kept from a question (the longest first).
MAX_TERMS = 8
#: Bigrams kept from text in scripts without spaces, on top of the words.
MAX_BIGRAMS = 12

# English function words and question words: they match nearly every passage.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each few for from further get gets got had
    hadn't has hasn't have haven't having he her here hers herself him himself his how i
    if in into is isn't it it's its itself just let me might more most must my myself no
    nor not now of off on once only or other ought our ours ourselves out over own same
    shall she should shouldn't so some such than that the their theirs them themselves
    then there these they this those through to too under until up upon us use used
    using very via was wasn't we were weren't what when where which while who whom whose
    why will with within without won't would wouldn't you your yours yourself yourselves
    also anyone anything way ways something thing things one ones many much make makes
    made like want need know tell say
    hello hi hey thanks thank please ok okay yes sure great
    """.split()  # noqa: SIM905 (a word list reads best as words)
)

# Runs of letters and digits, as unicode61 splits them ("_" and "-" separate too).
_WORD = re.compile(r"[^\W_]+")


@functools.cache
def _spaceless_pattern() -> re.Pattern[str]:
    return re.compile(f"^[{SPACELESS}]+$")


def _spaceless_token(term: str) -> bool:
    return _spaceless_pattern().match(term) is not None


def keyword_terms(question: str) -> list[str]:
    """The terms searched for ``question``: its longest non-stop words, then its bigrams.

    Lower-cased and de-duplicated; the order is the order of importance.
    """
    words: list[str] = []
    pieces: list[str] = []
    seen: set[str] = set()
    for raw in _WORD.findall(index_text(question)):
        term = raw.lower()
        if term in seen:
            continue
        seen.add(term)
        if _spaceless_token(term):
            pieces.append(term)
        elif term not in STOP_WORDS and not (len(term) == 1 and term.isascii()):
            words.append(term)
    # Longest first; ties keep the question's order (sorted is stable).
    words = sorted(words, key=len, reverse=True)[:MAX_TERMS]
    return words + pieces[:MAX_BIGRAMS]


def match_expression(terms: list[str]) -> str | None:
    """An FTS5 MATCH expression OR-ing every term, each quoted; None for no terms."""
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
