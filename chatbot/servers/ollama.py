"""Ollama's real context: the budget from ``/api/show``, and a warning before it truncates.

Ollama's OpenAI-compatible endpoint serves every model with its own context
size (the Modelfile's ``num_ctx``, else ``OLLAMA_CONTEXT_LENGTH``, else a
default of 4096 tokens in current versions, 2048 in older ones) and ignores any
size sent with the request. A longer prompt is not refused: Ollama silently
drops its start (ollama #4967, #18107), so the model loses the system prompt and
the early turns without anyone noticing.

So, when the server is Ollama: the budget is the model's real context length
from the native ``/api/show`` (or the smaller ``num_ctx`` it is served with,
when the Modelfile says), and :class:`OllamaContextGuard` warns once per model
when a request needs more than Ollama is serving.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from chatbot.api.client import ChatClient
from chatbot.api.events import ChatBackend, ChatRequest, StreamEvent
from chatbot.i18n import _
from chatbot.servers.server import ModelSwitch, Notify, RemoteServer, ServerKind
from chatbot.servers.tinyhttp import request_json
from chatbot.tokens import MESSAGE_OVERHEAD, REPLY_PRIMING, estimate_tokens

__all__ = [
    "OLLAMA_DEFAULT_CONTEXT",
    "OLLAMA_PORT",
    "OllamaContext",
    "OllamaContextGuard",
    "OllamaContexts",
    "OllamaServer",
    "looks_like_ollama",
    "ollama_context",
]

OLLAMA_PORT = 11434
#: What current Ollama versions serve when nothing sets ``num_ctx``.
OLLAMA_DEFAULT_CONTEXT = 4096
#: Ollama answers /api/show from the model's manifest, without loading it.
_SHOW_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class OllamaContext:
    """What Ollama says about one model's context, in tokens."""

    #: The model's trained length (``model_info["<arch>.context_length"]``).
    model_length: int | None
    #: ``num_ctx`` from the Modelfile, or the context the loaded model runs with.
    serving: int | None

    @property
    def budget(self) -> int | None:
        """The tokens a request may use: the smaller of the two that are known."""
        known = [n for n in (self.model_length, self.serving) if n]
        return min(known) if known else None


def _address(base_url: str) -> tuple[str, int] | None:
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        return None
    return parts.hostname, parts.port or 80


def looks_like_ollama(base_url: str) -> bool:
    """A base URL on Ollama's port (``http://HOST:11434/v1``)."""
    address = _address(base_url)
    return address is not None and address[1] == OLLAMA_PORT


def _num_ctx(parameters: object) -> int | None:
    """``num_ctx 8192`` from the Modelfile parameters text."""
    if not isinstance(parameters, str):
        return None
    for line in parameters.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "num_ctx" and words[1].isdigit():
            return int(words[1])
    return None


def ollama_context(base_url: str, model: str, *, timeout: float = _SHOW_TIMEOUT) -> OllamaContext:
    """Ask Ollama's ``/api/show`` (and ``/api/ps``) about ``model``; unknowns are None."""
    address = _address(base_url)
    if address is None:
        return OllamaContext(None, None)
    host, port = address
    shown = request_json("POST", host, port, "/api/show", body={"model": model}, timeout=timeout)
    length: int | None = None
    serving: int | None = None
    if isinstance(shown, dict):
        info = shown.get("model_info")
        if isinstance(info, dict):
            lengths = [
                v for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)
            ]
            length = lengths[0] if lengths else None
        serving = _num_ctx(shown.get("parameters"))
    return OllamaContext(length, serving or loaded_context(base_url, model, timeout=timeout))


def loaded_context(base_url: str, model: str, *, timeout: float = _SHOW_TIMEOUT) -> int | None:
    """The context ``model`` runs with right now (``/api/ps``), if it is loaded."""
    address = _address(base_url)
    if address is None:
        return None
    running = request_json("GET", *address, "/api/ps", timeout=timeout)
    models = running.get("models") if isinstance(running, dict) else None
    for entry in models if isinstance(models, list) else []:
        if not isinstance(entry, dict) or model not in (entry.get("name"), entry.get("model")):
            continue
        size = entry.get("context_length")
        if isinstance(size, int) and size > 0:
            return size
    return None


def _request_tokens(request: ChatRequest) -> int:
    return REPLY_PRIMING + sum(
        MESSAGE_OVERHEAD + estimate_tokens(str(message.get("content", "")))
        for message in request.messages
    )


class OllamaContexts:
    """What Ollama says about each model's context: asked once per model, then remembered."""

    def __init__(self, base_url: str, *, known: dict[str, OllamaContext] | None = None) -> None:
        self.base_url = base_url
        self._contexts: dict[str, OllamaContext] = dict(known or {})
        self._lock = threading.Lock()

    def get(self, model: str) -> OllamaContext:
        with self._lock:
            known = self._contexts.get(model)
        if known is None:
            known = ollama_context(self.base_url, model)
            with self._lock:
                self._contexts[model] = known
        return known

    def serving(self, model: str) -> int | None:
        """The context ``model`` is served with, asking again if it was not loaded before."""
        context = self.get(model)
        if context.serving is not None:
            return context.serving
        # Loaded by an earlier request, the model's real context is now known.
        serving = loaded_context(self.base_url, model)
        if serving is not None:
            with self._lock:
                self._contexts[model] = OllamaContext(context.model_length, serving)
        return serving


class OllamaContextGuard:
    """A :class:`ChatBackend` in front of Ollama that warns before it would truncate."""

    def __init__(
        self,
        backend: ChatBackend,
        *,
        contexts: OllamaContexts,
        notify: Callable[[str], None],
    ) -> None:
        self.backend = backend
        self.contexts = contexts
        self.notify = notify
        self._warned: set[tuple[str, int]] = set()

    def list_models(self) -> list[str]:
        return self.backend.list_models()

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        self._check(request)
        return self.backend.stream(request)

    def _check(self, request: ChatRequest) -> None:
        needed = _request_tokens(request)
        if needed <= OLLAMA_DEFAULT_CONTEXT // 2:
            return  # fits any context Ollama has ever defaulted to: no lookup at all
        serving = self.contexts.serving(request.model)
        limit = serving or OLLAMA_DEFAULT_CONTEXT
        if needed <= limit or (request.model, limit) in self._warned:
            return
        self._warned.add((request.model, limit))
        which = "" if serving else " (probably: its default)"
        length = self.contexts.get(request.model).model_length
        supports = f"; the model supports {length:,}" if length and length > limit else ""
        self.notify(
            f"Ollama serves {request.model} with a {limit:,}-token context{which}{supports}, "
            f"and this conversation needs about {needed:,}: Ollama silently drops its start. "
            f"Start Ollama with OLLAMA_CONTEXT_LENGTH={_suggest(needed)}, or trim here with "
            f"--context-window {limit}."
        )


class OllamaServer(RemoteServer):
    """Ollama: its real context per model is the budget, and a guard warns before it truncates."""

    kind = ServerKind.OLLAMA

    def __init__(
        self, client: ChatClient, *, default_model: str | None = None, offered: tuple[str, ...] = ()
    ) -> None:
        super().__init__(client, default_model=default_model, offered=offered)
        self.contexts = OllamaContexts(client.base_url)

    def backend(self, *, notify: Notify) -> ChatBackend:
        return OllamaContextGuard(self.client, contexts=self.contexts, notify=notify)

    def context_window(self, model: str) -> int | None:
        return self.contexts.get(model).budget

    def switch_model(self, name: str, *, notify: Notify) -> ModelSwitch:
        budget = self.context_window(name)
        if not budget:
            return super().switch_model(name, notify=notify)
        line = _("model: {model}; context: {window:,} tokens (from Ollama)")
        return ModelSwitch(model=name, line=line.format(model=name, window=budget))


def _suggest(needed: int) -> int:
    """The next power of two above ``needed`` with room for the reply."""
    size = 4096
    while size < needed * 1.25:
        size *= 2
    return size
