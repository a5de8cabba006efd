"""The embedded server and the model it serves; ``/model NAME`` restarts it with another.

The chat client asks :meth:`LocalRuntime.base_url` for the server's URL before its
first request (waiting for the server to be ready), and again after a switch,
so the client never holds on to a server that has been stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from chatbot.errors import ServerUnreachable
from chatbot.i18n import _
from chatbot.local.install import DEFAULT_ALIAS
from chatbot.local.model_cache import LocalModel
from chatbot.local.server_process import LocalServer

__all__ = ["BUNDLED_CONTEXT", "PULLED_CONTEXT", "LocalRuntime", "alias_for", "context_for"]

#: Tokens of context for the bundled SmolLM2-135M (trained on 8k, useful far below).
BUNDLED_CONTEXT = 2048
#: Tokens of context for a pulled model: room for a real conversation on a laptop.
PULLED_CONTEXT = 4096

ServerFactory = Callable[..., LocalServer]


def alias_for(model: LocalModel) -> str:
    """The model id the server answers to (and requests and the toolbar name)."""
    return DEFAULT_ALIAS if model.bundled else model.name


def context_for(model: LocalModel) -> int:
    return BUNDLED_CONTEXT if model.bundled else PULLED_CONTEXT


class LocalRuntime:
    """Starts, switches and stops the embedded llama.cpp server."""

    def __init__(
        self,
        *,
        log_path: Path | None,
        cache_dir: Path,
        server_factory: ServerFactory = LocalServer,
    ) -> None:
        self.log_path = log_path
        #: huggingface_hub's cache, where ``/model`` finds the pulled models.
        self.cache_dir = cache_dir
        self._factory = server_factory
        self._lock = threading.Lock()
        self.server: LocalServer | None = None
        self.model: LocalModel | None = None

    def start(self, model: LocalModel) -> LocalServer:
        """Launch the server for ``model`` in the background; returns at once."""
        server = self._factory(
            model_path=model.path,
            alias=alias_for(model),
            n_ctx=context_for(model),
            log_path=self.log_path,
        )
        server.start_in_background()
        with self._lock:
            self.server, self.model = server, model
        return server

    def switch(self, model: LocalModel) -> LocalServer:
        """Stop the running server and start one for ``model`` (its memory is freed first)."""
        self.stop()
        return self.start(model)

    def base_url(self) -> str:
        """Wait until the current server is ready; its OpenAI base URL."""
        with self._lock:
            server = self.server
        if server is None:
            raise ServerUnreachable(_("The local model server is not running"))
        server.wait_ready()
        return server.base_url

    def stop(self) -> None:
        with self._lock:
            server, self.server = self.server, None
        if server is not None:
            server.stop()
