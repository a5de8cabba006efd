"""The server a run talks to, as one object, and the plain remote kind of it.

Whatever answers (OpenAI, a configured or found OpenAI-compatible server, Ollama,
our embedded llama.cpp), the rest of the program asks this one object for the base
URL, the backend to stream through, the models on offer, the context window it
really serves for a model, and for switching model. The configuration holds only
what the user asked for; what a run learns about its server lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from chatbot.api.client import ChatClient
from chatbot.api.events import ChatBackend
from chatbot.i18n import _

__all__ = [
    "FixedServer",
    "ModelMenu",
    "ModelSwitch",
    "Notify",
    "RemoteServer",
    "Server",
    "ServerKind",
]

Notify = Callable[[str], None]


class ServerKind(StrEnum):
    REMOTE = "remote"
    OLLAMA = "ollama"
    EMBEDDED = "embedded"


@dataclass(frozen=True, slots=True)
class ModelMenu:
    lines: tuple[str, ...]
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class ModelSwitch:
    """What ``/model NAME`` did: the model id to request from now on, and what to say."""

    model: str
    line: str


class Server(Protocol):
    """One server: its URL, its backend, its models and the context it serves them with."""

    @property
    def kind(self) -> ServerKind: ...

    @property
    def base_url(self) -> str:
        """The one base URL requests go to (the embedded server's, once it is up)."""
        ...

    @property
    def identity(self) -> str:
        """What is remembered about this server between runs is keyed by this (tool support)."""
        ...

    @property
    def default_model(self) -> str | None:
        """The model a run uses when neither flags, environment nor persona name one."""
        ...

    def accepts(self, model: str) -> bool:
        """True when a persona's ``model`` can be asked for here (else the default is used)."""
        ...

    def backend(self, *, notify: Notify) -> ChatBackend:
        """The backend one conversation streams through; ``notify`` hears its warnings."""
        ...

    def models(self) -> list[str]:
        """Model ids the server offers; empty when it will not say."""
        ...

    def model_names(self) -> list[str]:
        """Names ``/model`` completes, known without asking the network (maybe none)."""
        ...

    def model_menu(self, current: str) -> ModelMenu:
        """What ``/model`` with no name shows: the models, ``current`` marked, and a hint."""
        ...

    def context_window(self, model: str) -> int | None:
        """The context the server really serves ``model`` with, when it can tell."""
        ...

    def switch_model(self, name: str, *, notify: Notify) -> ModelSwitch:
        """Make ``name`` the model to talk to (restarting a server if that is what it takes).

        ``notify`` hears what takes a while. Raises :class:`~chatbot.errors.ChatbotError`
        when it cannot; then nothing changed.
        """
        ...

    def warm_up(self) -> None:
        """Get ready for the first request in the background (load the SDK, wait for a boot)."""
        ...

    def close(self) -> None: ...


class FixedServer:
    """A server over a backend made elsewhere (a scripted one, in tests): it learns nothing."""

    kind = ServerKind.REMOTE

    def __init__(
        self, backend: ChatBackend, *, base_url: str = "http://scripted.invalid/v1"
    ) -> None:
        self._backend = backend
        self.base_url = base_url
        self.identity = base_url
        self.default_model: str | None = None

    def accepts(self, model: str) -> bool:
        return True

    def backend(self, *, notify: Notify) -> ChatBackend:
        return self._backend

    def models(self) -> list[str]:
        return self._backend.list_models()

    def model_names(self) -> list[str]:
        return []

    def model_menu(self, current: str) -> ModelMenu:
        available = self.models()
        hint = (
            _("available: {models}").format(models=", ".join(available[:40])) if available else None
        )
        return ModelMenu(lines=(_("model: {model}").format(model=current),), hint=hint)

    def context_window(self, model: str) -> int | None:
        return None

    def switch_model(self, name: str, *, notify: Notify) -> ModelSwitch:
        return ModelSwitch(model=name, line=_("model: {model}").format(model=name))

    def warm_up(self) -> None:
        return None

    def close(self) -> None:
        return None


class RemoteServer(FixedServer):
    """An OpenAI-compatible server someone else runs: configured, or found on loopback."""

    def __init__(
        self, client: ChatClient, *, default_model: str | None = None, offered: tuple[str, ...] = ()
    ) -> None:
        super().__init__(client, base_url=client.base_url)
        self.client = client
        self.default_model = default_model
        #: The models a found server listed; a persona's model is used only if among them.
        self._offered = offered

    def accepts(self, model: str) -> bool:
        return not self._offered or model in self._offered

    def model_names(self) -> list[str]:
        return list(self._offered)

    def warm_up(self) -> None:
        self.client.warm_up()

    def close(self) -> None:
        self.client.close()
