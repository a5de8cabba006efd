"""Which server a run talks to: planned from the settings alone, then opened.

:func:`plan_server` decides from what the user asked for, without any I/O: the
configured server (or OpenAI with a key), the embedded model (``--local``, a
persona's ``provider = "local"``), or, with nothing configured, a look on
loopback for Ollama, LM Studio or llama.cpp's server (:mod:`chatbot.servers.discovery`)
with the embedded model to fall back on. :func:`start_server` carries the plan out
and returns the one :class:`~chatbot.servers.server.Server` the run uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from chatbot.errors import ConfigError
from chatbot.i18n import _
from chatbot.servers.discovery import Discovered, Probe, probes_from_env
from chatbot.servers.server import RemoteServer, Server
from chatbot.settings.config import SETUP_HELP, Config
from chatbot.settings.paths import AppPaths
from chatbot.settings.personas import Persona

if TYPE_CHECKING:
    from chatbot.api.client import ChatClient
    from chatbot.secrets import Redactor

__all__ = [
    "EmbeddedPlan",
    "FindPlan",
    "RemotePlan",
    "ServerPlan",
    "plan_server",
    "start_server",
]

Warn = Callable[[str], None]
#: Makes the HTTP client for a base URL, with the run's key, timeout and debug log.
ClientFactory = Callable[[str], "ChatClient"]


@dataclass(frozen=True, slots=True)
class RemotePlan:
    """A server someone else runs: the configured base URL, or OpenAI's."""

    base_url: str


@dataclass(frozen=True, slots=True)
class EmbeddedPlan:
    """Our own llama.cpp server, with a pulled model (``--local-model``) or the bundled one."""

    model: str | None
    #: Why: asked for, a persona's ``provider``, or nothing else configured (said in a line).
    reason: Literal["flag", "persona", "default"]


@dataclass(frozen=True, slots=True)
class FindPlan:
    """Nothing configured: look on loopback first, then fall back (None: nothing to use)."""

    probes: tuple[Probe, ...]
    fallback: EmbeddedPlan | None


ServerPlan = RemotePlan | EmbeddedPlan | FindPlan


def plan_server(
    config: Config, persona: Persona, *, env: Mapping[str, str], local_available: bool
) -> ServerPlan:
    """The server the settings ask for; ConfigError when they ask for none that can be had."""
    if persona.provider == "local" and not config.local and not config.base_url_flag:
        # The persona asks for the embedded model (a flag's --base-url still wins).
        return EmbeddedPlan(model=config.local_model, reason="persona")
    if config.local:
        return EmbeddedPlan(model=config.local_model, reason="flag")
    if config.base_url or env.get("OPENAI_API_KEY"):
        return RemotePlan(config.remote_url)
    if config.local_refused:
        # CHATBOT_LOCAL=0 says what to use (nothing of ours), so there is nothing to find.
        raise ConfigError(SETUP_HELP)
    fallback = EmbeddedPlan(model=None, reason="default") if local_available else None
    return FindPlan(probes=probes_from_env(env), fallback=fallback)


def start_server(
    plan: ServerPlan,
    *,
    config: Config,
    persona: Persona,
    client_for: ClientFactory,
    redact: Redactor,
    env: Mapping[str, str],
    paths: AppPaths,
    warn: Warn,
) -> Server:
    """Carry ``plan`` out: look, connect or start; the run's one server.

    ``persona`` is the one the run starts with: a found server's choice of model
    is said for it.
    """
    if isinstance(plan, FindPlan):
        from chatbot.servers.discovery import discover_local_server

        found = discover_local_server(plan.probes)
        if found is not None:
            return _found(found, config=config, persona=persona, client_for=client_for, warn=warn)
        if plan.fallback is None:
            raise ConfigError(SETUP_HELP)
        plan = plan.fallback
    if isinstance(plan, EmbeddedPlan):
        from chatbot.servers.embedded import start_embedded

        return start_embedded(
            plan.model,
            said=plan.reason == "default",
            client_for=client_for,
            redact=redact,
            env=env,
            paths=paths,
            warn=warn,
        )
    return _remote(client_for(plan.base_url))


def _remote(
    client: ChatClient, *, default_model: str | None = None, offered: tuple[str, ...] = ()
) -> Server:
    from chatbot.servers.ollama import OllamaServer, looks_like_ollama

    if looks_like_ollama(client.base_url):
        return OllamaServer(client, default_model=default_model, offered=offered)
    return RemoteServer(client, default_model=default_model, offered=offered)


def _found(
    found: Discovered, *, config: Config, persona: Persona, client_for: ClientFactory, warn: Warn
) -> Server:
    """A server found on loopback, and the one line that says so and which model it is."""
    client = client_for(found.base_url)
    models = found.models
    where = _("{server} at {url}").format(
        server=found.probe.label, url=found.base_url.removesuffix("/v1")
    )
    if not models:
        warn(
            _("no API key or server configured; found {where}, but it offers no models").format(
                where=where
            )
        )
        return _remote(client)
    if found.is_ollama:
        from chatbot.servers.ollama import OllamaServer

        server: Server = OllamaServer(client, default_model=models[0], offered=models)
    else:
        server = RemoteServer(client, default_model=models[0], offered=models)
    chosen = config.params_for(persona, server).model
    shown = ", ".join(models[:6])
    if len(models) > 6:
        shown = _("{models} and {count} more").format(models=shown, count=len(models) - 6)
    found_line = _(
        "no API key or server configured; found {where} (models: {models}), using {model}"
    )
    warn(found_line.format(where=where, models=shown, model=chosen))
    return server
