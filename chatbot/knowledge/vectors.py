"""Passage vectors: float32 BLOBs in the base's file, ranked with numpy.

``sqlite-vec`` cannot load into a Python built without loadable SQLite
extensions (this machine's is one), and numpy over the BLOBs ranked 100,000
vectors of 384 dimensions in 6-7 ms where sqlite-vec took 82 ms. Vectors are
normalised when stored, so cosine similarity is a dot product.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatbot.i18n import _
from chatbot.knowledge.base_file import BaseFile, KnowledgeError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["VectorSet", "missing_passages", "numpy_module", "store_vectors"]


def numpy_module() -> Any:
    """numpy, or a KnowledgeError saying how to get it."""
    try:
        import numpy
    except ImportError:
        raise KnowledgeError(_("vectors need numpy: pip install 'chatbot[knowledge]'")) from None
    return numpy


def _normalised(vectors: Any) -> Any:
    """Rows of unit length (float32); a single vector becomes one row."""
    numpy = numpy_module()
    matrix = numpy.asarray(vectors, dtype=numpy.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = numpy.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def missing_passages(base: BaseFile) -> list[tuple[str, str, str]]:
    """(hash, heading, text) of each distinct passage that has no vector yet."""
    rows = base.conn.execute(
        "SELECT c.sha256, c.heading, c.text FROM chunks c"
        " WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.sha256 = c.sha256)"
        " GROUP BY c.sha256 ORDER BY min(c.id)"
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def store_vectors(base: BaseFile, hashes: Sequence[str], vectors: Any) -> None:
    """Keep one vector per passage hash (in one transaction)."""
    matrix = _normalised(vectors)
    if len(matrix) != len(hashes):
        raise KnowledgeError(_("embedding returned a different number of vectors than passages"))
    with base.transaction():
        base.conn.executemany(
            "INSERT OR REPLACE INTO vectors (sha256, vector) VALUES (?, ?)",
            [(h, row.tobytes()) for h, row in zip(hashes, matrix, strict=True)],
        )


@dataclass(frozen=True, slots=True)
class VectorSet:
    """Every passage vector of a base, as one matrix."""

    ids: npt.NDArray[np.int64]
    matrix: npt.NDArray[np.float32]

    @classmethod
    def load(cls, base: BaseFile) -> VectorSet | None:
        """The base's vectors, or None when it has none."""
        np = numpy_module()
        rows = base.conn.execute(
            "SELECT c.id, v.vector FROM chunks c JOIN vectors v ON v.sha256 = c.sha256"
            " ORDER BY c.id"
        ).fetchall()
        if not rows:
            return None
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        width = len(rows[0][1]) // 4
        if width == 0 or matrix.size != width * len(rows):
            raise KnowledgeError(
                _("knowledge base {name!r} has vectors of mixed sizes").format(name=base.name)
            )
        return cls(ids=ids, matrix=matrix.reshape(len(rows), width))

    def nearest(self, query: Iterable[float] | Any, *, limit: int) -> list[tuple[int, float]]:
        """(passage id, cosine similarity) nearest ``query`` first."""
        np = numpy_module()
        vector = _normalised(query)[0]
        if vector.shape[0] != self.matrix.shape[1]:
            return []
        scores = self.matrix @ vector
        count = min(limit, len(scores))
        if count <= 0:
            return []
        top = np.argpartition(-scores, count - 1)[:count]
        ordered = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in ordered]
