"""The knowledge bases of a chat: which are in use, searching them, and what fits.

Implements :class:`~chatbot.conversation.references.Retriever`. The bases come from
``--knowledge`` (or ``/knowledge``) when given, else from the persona's
``knowledge`` key; each is opened once, on first use. Every base is searched by
keywords; one with vectors is searched by them too, when its model can embed the
question, and the rankings are fused. Passages then go in best first while they
fit the share of the budget (the best one is cut to fit rather than left out).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chatbot.conversation.references import DEFAULT_SHARE, References, Source
from chatbot.errors import ChatbotError
from chatbot.i18n import _
from chatbot.knowledge.base_file import BaseFile, KnowledgeError, base_names, check_name
from chatbot.knowledge.embedders import Embedder
from chatbot.knowledge.fusion import reciprocal_rank_fusion
from chatbot.knowledge.keywords import keyword_terms
from chatbot.knowledge.ranking import CANDIDATES, Hit, hits_by_id, keyword_ranking
from chatbot.knowledge.shelf import KnowledgeShelf
from chatbot.settings.personas import Persona
from chatbot.tokens import estimate_tokens

__all__ = ["MAX_PASSAGES", "KnowledgeRetriever", "hit_source"]

#: More passages than this add noise, not answers, whatever the budget.
MAX_PASSAGES = 8
#: Tokens each passage costs beyond its text (its tag and source line).
_PASSAGE_OVERHEAD = 30
#: The instructions around the passages.
_BLOCK_OVERHEAD = 120

#: Finds an embedder for a model a base recorded, or None when none can be had now.
EmbedderFor = Callable[[str], Embedder | None]


def hit_source(hit: Hit, *, text: str | None = None) -> Source:
    """A found passage as the conversation keeps it."""
    lines = hit.kind not in ("html", "pdf")
    return Source(
        base=hit.base,
        label=hit.label,
        section=hit.heading,
        first_line=hit.first_line if lines else 0,
        last_line=hit.last_line if lines else 0,
        first_page=hit.first_page,
        last_page=hit.last_page,
        text=hit.text if text is None else text,
    )


class KnowledgeRetriever:
    """The bases a chat searches; each search opens them and closes them again.

    So a session owns no open file (the web keeps many sessions, each turn on its own
    thread), and a search sees what ``chatbot knowledge update`` wrote meanwhile.
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        chosen: tuple[str, ...] | None = None,
        share: float | None = None,
        embedder_for: EmbedderFor | None = None,
        shelf: KnowledgeShelf | None = None,
    ) -> None:
        self.data_dir = data_dir
        #: Bases chosen by flag or /knowledge; None lets the persona decide; () is off.
        self.chosen = None if chosen is None else tuple(check_name(n) for n in chosen)
        #: The share set by flag or environment; None lets the persona decide.
        self.share = share
        self._embedder_for = embedder_for or (lambda _model: None)
        self._open: dict[str, BaseFile] = {}
        #: Vectors and embedders, shared with the process's other conversations.
        self._shelf = shelf or KnowledgeShelf()
        #: Models that could not embed a question here: keyword search for the rest.
        self._failed: set[str] = set()
        #: Said once per base: why its vectors are not used.
        self._told: set[str] = set()

    # -- which bases -----------------------------------------------------------------

    def bases_for(self, persona: Persona) -> tuple[str, ...]:
        if self.chosen is not None:
            return self.chosen
        return tuple(persona.knowledge or ())

    def share_for(self, persona: Persona) -> float:
        if self.share is not None:
            return self.share
        return persona.knowledge_share if persona.knowledge_share is not None else DEFAULT_SHARE

    def choose(self, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        """Use ``names`` from now on (None: the persona's; (): none); each must exist."""
        if names:
            clean = tuple(dict.fromkeys(check_name(n) for n in names))
            self.check(clean)
            self.chosen = clean
        else:
            self.chosen = names
        return self.chosen

    def check(self, names: tuple[str, ...]) -> None:
        """KnowledgeError naming the first base in ``names`` that does not exist."""
        known = set(base_names(self.data_dir))
        for name in names:
            if check_name(name) not in known:
                listed = ", ".join(sorted(known)) or _("none yet: chatbot knowledge add NAME PATH")
                raise KnowledgeError(
                    _("no knowledge base {name!r} (bases: {listed})").format(
                        name=name, listed=listed
                    )
                )

    def available(self) -> list[str]:
        return base_names(self.data_dir)

    # -- searching -------------------------------------------------------------------

    def base(self, name: str) -> BaseFile:
        opened = self._open.get(name)
        if opened is None:
            opened = self._open[name] = BaseFile.open(self.data_dir, name)
        return opened

    def retrieve(self, question: str, *, persona: Persona, max_tokens: int) -> References | None:
        try:
            return self._retrieve(question, persona=persona, max_tokens=max_tokens)
        finally:
            self._close_bases()

    def _retrieve(self, question: str, *, persona: Persona, max_tokens: int) -> References | None:
        bases = self.bases_for(persona)
        if not bases:
            return None
        if not keyword_terms(question):
            # Nothing to look up ("thanks!", a message of files alone): no search, and
            # no "nothing found" either.
            return References(bases=bases, budget=max_tokens, searched=False)
        if max_tokens < _BLOCK_OVERHEAD + _PASSAGE_OVERHEAD + 30:
            note = _(
                "no room left for passages from the knowledge base in this model's context: "
                "the question was sent without them"
            )
            return References(bases=bases, budget=max_tokens, notes=(note,), searched=False)
        notes: list[str] = []
        rankings: list[list[tuple[str, int]]] = []
        for name in bases:
            try:
                ranking = self._ranking(name, question, notes)
            except ChatbotError as exc:
                notes.append(
                    _("knowledge base {name!r} was not searched: {error}").format(
                        name=name, error=exc
                    )
                )
                continue
            rankings.append([(name, chunk_id) for chunk_id in ranking])
        fused = reciprocal_rank_fusion(rankings)[: MAX_PASSAGES * 2]
        sources = self._fitting(fused, max_tokens=max_tokens)
        return References(
            bases=bases, sources=tuple(sources), budget=max_tokens, notes=tuple(notes)
        )

    def _ranking(self, name: str, question: str, notes: list[str]) -> list[int]:
        base = self.base(name)
        keyword = keyword_ranking(base, question)
        nearest = self._vector_ranking(base, question, notes)
        if not nearest:
            return keyword
        embedder = self._shelf.embedder(base.meta("embed_model") or "", self._embedder_for)
        if not keyword and (embedder is None or nearest[0][1] < embedder.min_similarity):
            # No word in common and nothing close in meaning: nothing was found, and
            # the nearest vectors of an unrelated question must not pretend otherwise.
            return []
        return reciprocal_rank_fusion([keyword, [chunk_id for chunk_id, _ in nearest]])

    def _vector_ranking(
        self, base: BaseFile, question: str, notes: list[str]
    ) -> list[tuple[int, float]]:
        model = base.meta("embed_model")
        if model is None:
            return []
        try:
            vectors = self._shelf.vectors(base)
        except KnowledgeError as exc:
            self._note(base.name, _keyword_only(exc), notes)
            return []
        if vectors is None or model in self._failed:
            return []
        try:
            embedder = self._shelf.embedder(model, self._embedder_for)
        except ChatbotError as exc:
            self._failed.add(model)
            self._note(base.name, _keyword_only(exc), notes)
            return []
        if embedder is None:
            self._failed.add(model)
            self._note(
                base.name,
                _(
                    "knowledge base {name!r} has vectors from {model}, which cannot embed "
                    "the question here; keyword search only"
                ).format(name=base.name, model=model),
                notes,
            )
            return []
        try:
            return vectors.nearest(embedder.query(question), limit=CANDIDATES)
        except ChatbotError as exc:
            # Said once, then keyword search alone for the rest of the chat.
            self._failed.add(model)
            self._note(base.name, _keyword_only(exc), notes)
            return []

    def _note(self, name: str, text: str, notes: list[str]) -> None:
        if name not in self._told:
            self._told.add(name)
            notes.append(text)

    def _fitting(self, ranked: list[tuple[str, int]], *, max_tokens: int) -> list[Source]:
        room = max_tokens - _BLOCK_OVERHEAD
        sources: list[Source] = []
        by_base: dict[str, list[int]] = {}
        for name, chunk_id in ranked:
            by_base.setdefault(name, []).append(chunk_id)
        hits = {
            (h.base, h.chunk_id): h
            for n, ids in by_base.items()
            for h in hits_by_id(self.base(n), ids)
        }
        for key in ranked:
            hit = hits.get(key)
            if hit is None:
                continue
            cost = estimate_tokens(hit.text) + _PASSAGE_OVERHEAD
            if cost > room:
                if sources:
                    continue  # a smaller passage further down may still fit
                text = _cut_to(hit.text, room - _PASSAGE_OVERHEAD)
                if not text:
                    break
                sources.append(hit_source(hit, text=text))
                break
            sources.append(hit_source(hit))
            room -= cost
            if len(sources) >= MAX_PASSAGES:
                break
        return sources

    def _close_bases(self) -> None:
        for base in self._open.values():
            base.close()
        self._open.clear()

    def close(self) -> None:
        self._close_bases()


def _keyword_only(error: Exception) -> str:
    return _("{error}; keyword search only").format(error=error)


def _cut_to(text: str, tokens: int) -> str:
    """The start of ``text`` within ``tokens``, cut at a line (or word) boundary."""
    if tokens <= 0:
        return ""
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        cost = estimate_tokens(line) + 1
        if used + cost > tokens:
            words = line.split(" ")
            while words and used + estimate_tokens(" ".join(words)) > tokens:
                words.pop()
            if words:
                kept.append(" ".join(words))
            break
        kept.append(line)
        used += cost
    return "\n".join(kept).rstrip() + ("\n…" if kept else "")
