"""What every conversation of one process shares: loaded vectors and embedders.

The web chat runs many conversations at once, each with its own retriever (each
chooses its bases); a base's vectors (150 MB for 100,000 passages) and an embedding
model are loaded once for all of them. A base's vectors are loaded again when it
has new passages or new vectors since.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from chatbot.knowledge.base_file import BaseFile
from chatbot.knowledge.embedders import Embedder
from chatbot.knowledge.vectors import VectorSet

__all__ = ["KnowledgeShelf"]

#: Newest passage and newest vector: either grows when an update changes what is loaded.
_STAMP = "SELECT (SELECT max(id) FROM chunks), (SELECT max(rowid) FROM vectors)"


class KnowledgeShelf:
    """Vectors by base file and embedders by model, loaded on first use; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vectors: dict[Path, tuple[tuple[int, int], VectorSet | None]] = {}
        self._embedders: dict[str, Embedder | None] = {}
        #: Times a base's vectors were read from disk (what sharing saves).
        self.loads = 0

    def vectors(self, base: BaseFile) -> VectorSet | None:
        """The vectors of ``base`` as they are now; KnowledgeError when unusable."""
        newest_passage, newest_vector = base.conn.execute(_STAMP).fetchone()
        stamp = (newest_passage or 0, newest_vector or 0)
        with self._lock:
            held = self._vectors.get(base.path)
            if held is not None and held[0] == stamp:
                return held[1]
        loaded = VectorSet.load(base)
        with self._lock:
            self.loads += 1
            self._vectors[base.path] = (stamp, loaded)
        return loaded

    def embedder(self, model: str, make: Callable[[str], Embedder | None]) -> Embedder | None:
        """The embedder for ``model``, made once by ``make`` (whose errors are not kept)."""
        with self._lock:
            if model in self._embedders:
                return self._embedders[model]
        made = make(model)
        with self._lock:
            return self._embedders.setdefault(model, made)
