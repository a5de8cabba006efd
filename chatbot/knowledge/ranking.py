"""Finding a question's passages in one base: keyword ranking, vectors, and both.

Keyword ranking (FTS5's BM25 over the quoted, OR-ed terms of
:mod:`~chatbot.knowledge.keywords`) always works, offline and with any server.
When the base has vectors and the question has been embedded by the same model,
the nearest passages by cosine similarity are fused with the keyword ranking by
reciprocal rank fusion.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.knowledge.base_file import BaseFile
from chatbot.knowledge.fusion import reciprocal_rank_fusion
from chatbot.knowledge.keywords import keyword_terms, match_expression

__all__ = ["Hit", "hits_by_id", "keyword_ranking", "search_base"]

#: Candidates each ranking contributes before fusion.
CANDIDATES = 40


@dataclass(frozen=True, slots=True)
class Hit:
    """One passage found, with where it is."""

    chunk_id: int
    base: str
    label: str
    kind: str
    heading: str
    first_line: int
    last_line: int
    first_page: int
    last_page: int
    text: str


def keyword_ranking(base: BaseFile, question: str, *, limit: int = CANDIDATES) -> list[int]:
    """Passage ids best first by BM25; [] when the question has no searchable word."""
    expression = match_expression(keyword_terms(question))
    if expression is None:
        return []
    try:
        rows = base.conn.execute(
            "SELECT rowid FROM chunk_index WHERE chunk_index MATCH ? ORDER BY rank LIMIT ?",
            (expression, limit),
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # every term is quoted: this would be a damaged index, found elsewhere
    return [int(row[0]) for row in rows]


def hits_by_id(base: BaseFile, ids: Sequence[int]) -> list[Hit]:
    """The passages ``ids``, in that order (ids no longer there are left out)."""
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    rows = base.conn.execute(
        "SELECT c.id, f.label, f.kind, c.heading, c.first_line, c.last_line, c.first_page,"
        " c.last_page, c.text FROM chunks c JOIN files f ON f.id = c.file_id"
        f" WHERE c.id IN ({marks})",
        list(ids),
    ).fetchall()
    found = {
        int(row[0]): Hit(
            chunk_id=int(row[0]),
            base=base.name,
            label=row[1],
            kind=row[2],
            heading=row[3],
            first_line=int(row[4]),
            last_line=int(row[5]),
            first_page=int(row[6]),
            last_page=int(row[7]),
            text=row[8],
        )
        for row in rows
    }
    return [found[i] for i in ids if i in found]


def search_base(
    base: BaseFile,
    question: str,
    *,
    limit: int = 5,
    vector_ranking: Sequence[int] = (),  # passage ids
) -> list[Hit]:
    """The ``limit`` best passages for ``question``: keyword ranking, fused with
    ``vector_ranking`` (passage ids nearest first) when one is given."""
    keyword = keyword_ranking(base, question)
    ids = reciprocal_rank_fusion([keyword, vector_ranking]) if vector_ranking else keyword
    return hits_by_id(base, ids[:limit])
