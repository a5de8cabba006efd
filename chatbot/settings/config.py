"""Configuration, resolved in one obvious order.

Flags > environment > ``.env`` (current folder, then the user config folder)
> persona > built-in defaults. The persona layer is applied per request, so
``/persona`` can change model and temperature mid-conversation while a flag
the user typed still wins.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TypeVar

from chatbot.errors import ConfigError
from chatbot.secrets import Secret
from chatbot.settings.catalogue import Price, context_window_for
from chatbot.settings.limits import (
    CONTEXT_WINDOW,
    DEFAULT_THINK,
    MAX_TOKENS,
    MAX_WAIT,
    OVERFLOW_POLICIES,
    RETRIES,
    TEMPERATURE,
    THINK_MODES,
    TIMEOUT,
    TOP_P,
    Range,
)
from chatbot.settings.personas import Persona

__all__ = [
    "DEFAULT_MODEL",
    "SETUP_HELP",
    "Config",
    "ModelParams",
    "ParamOverrides",
    "load_environment",
    "resolve_config",
]

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT = 60.0

SETUP_HELP = (
    "No API key or server configured. Either set OPENAI_API_KEY (in your shell or a .env "
    "file), or point at a local OpenAI-compatible server, e.g. "
    "OPENAI_BASE_URL=http://localhost:11434/v1 for Ollama (see README: Configuration)."
)

_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True, slots=True)
class ParamOverrides:
    """Request parameters one configuration layer sets; None means "not set here"."""

    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    context_window: int | None = None

    def over(self, lower: ParamOverrides) -> ParamOverrides:
        """This layer on top of ``lower``."""
        merged = {
            f.name: getattr(self, f.name)
            if getattr(self, f.name) is not None
            else getattr(lower, f.name)
            for f in fields(self)
        }
        return ParamOverrides(**merged)


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelParams:
    """Everything a chat request needs besides the messages."""

    model: str
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: tuple[str, ...] | None
    context_window: int


@dataclass(frozen=True, kw_only=True)
class Config:
    """Resolved configuration for one run of the chatbot."""

    api_key: Secret
    base_url: str | None
    timeout: float = DEFAULT_TIMEOUT
    #: Visible retries after a rate limit or server error, before any text.
    retries: int = 3
    #: The longest single wait before a retry; a longer Retry-After gives up.
    retry_max_wait: float = 60.0
    #: Ask for a usage chunk (``stream_options``); some servers reject it.
    include_usage: bool = True
    persona_name: str | None = None
    #: Flag and environment layers, already merged (flags win).
    overrides: ParamOverrides = field(default_factory=ParamOverrides)
    #: Context windows the user set per model in config; longest prefix wins.
    context_windows: Mapping[str, int] = field(default_factory=dict)
    #: Prices the user set per model in config (US$ per million tokens); longest prefix wins.
    prices: Mapping[str, Price] = field(default_factory=dict)
    store_path: Path | None = None
    no_store: bool = False
    cache: bool = False
    markdown: bool | None = None  # None: decide by whether stdout is a terminal
    #: What to do when turns no longer fit: "drop" or "summarize" (None: the persona's).
    overflow: str | None = None
    #: How thinking is shown: "show", "fold" or "hide" (None: the persona's, else fold).
    think: str | None = None
    #: Run the embedded local model (``--local``, or nothing else configured).
    local: bool = False
    #: Why the local model was chosen: "flag" or "default" (nothing else configured).
    local_reason: str | None = None
    #: ``--local-model``: a pulled model's name or a GGUF file (see chatbot.local.model_cache).
    local_model: str | None = None
    warnings: tuple[str, ...] = ()

    def params_for(self, persona: Persona) -> ModelParams:
        """Effective request parameters with ``persona`` as the layer under the flags."""
        persona_layer = ParamOverrides(
            model=persona.model,
            temperature=persona.temperature,
            top_p=persona.top_p,
            max_tokens=persona.max_tokens,
            context_window=persona.context_window,
        )
        merged = self.overrides.over(persona_layer)
        model = merged.model or DEFAULT_MODEL
        window = merged.context_window or context_window_for(model, overrides=self.context_windows)
        return ModelParams(
            model=model,
            temperature=merged.temperature,
            top_p=merged.top_p,
            max_tokens=merged.max_tokens,
            stop=persona.stop,
            context_window=window,
        )

    def think_for(self, persona: Persona) -> str:
        """How to show thinking: the flag, environment or ``/think``, else the persona's."""
        return self.think or persona.think or DEFAULT_THINK

    def with_think(self, mode: str) -> Config:
        """The same configuration showing thinking as ``mode`` (``/think``)."""
        return replace(self, think=_think(mode, name="/think"))

    def with_model(self, model: str) -> Config:
        """The same configuration with ``model`` chosen by the user (``/model``)."""
        return replace(self, overrides=replace(self.overrides, model=model))

    @property
    def endpoint(self) -> str:
        """The base URL for messages: the server the user is talking to."""
        return self.base_url or "https://api.openai.com/v1"


def load_environment(
    *,
    environ: Mapping[str, str],
    dotenv_files: Sequence[Path],
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The process environment over the ``.env`` files (earlier files win).

    Nothing is written to ``os.environ``: the merged mapping is passed along
    explicitly, so tests and the REPL see exactly the same configuration.
    """
    merged: dict[str, str] = {}
    warnings: list[str] = []
    for path in reversed(dotenv_files):
        if not path.is_file():
            continue
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc.__class__.__name__}") from None
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            warnings.append(f"warning: {path} is readable by other users; run: chmod 600 {path}")
        merged.update(_parse_dotenv(text))
    merged.update(environ)
    return merged, tuple(warnings)


def _parse_dotenv(text: str) -> dict[str, str]:
    # python-dotenv's parser handles quoting, export prefixes and comments.
    import io

    from dotenv import dotenv_values

    values = dotenv_values(stream=io.StringIO(text))
    return {k: v for k, v in values.items() if v is not None}


def _env_number(env: Mapping[str, str], name: str, limits: Range) -> float | None:
    """The variable's value checked against ``limits``; None when unset or blank."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return limits.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} {exc}") from None


def _env_int(env: Mapping[str, str], name: str, limits: Range) -> int | None:
    value = _env_number(env, name, limits)
    return None if value is None else int(value)


def _overflow(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower().replace("summarise", "summarize")
    if value not in OVERFLOW_POLICIES:
        raise ConfigError(f"overflow policy must be {' or '.join(OVERFLOW_POLICIES)}, got {raw!r}")
    return value


def _think(raw: str | None, *, name: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value not in THINK_MODES:
        choices = ", ".join(THINK_MODES[:-1]) + " or " + THINK_MODES[-1]
        raise ConfigError(f"{name} must be {choices}, got {raw!r}")
    return value


def _flag(raw: str | None) -> bool | None:
    if raw is None or raw.strip() == "":
        return None
    return raw.strip().lower() not in {"0", "false", "no", "off"}


def resolve_config(
    *,
    flags: Mapping[str, object],
    env: Mapping[str, str],
    warnings: Sequence[str] = (),
    local_available: bool = False,
) -> Config:
    """Build the configuration from parsed flags and the merged environment.

    ``flags`` holds only options the user actually gave (None/absent = unset),
    with values already validated by the argument parser.
    """

    def flag(name: str) -> object | None:
        return flags.get(name)

    env_layer = ParamOverrides(
        model=env.get("CHATBOT_MODEL") or env.get("OPENAI_MODEL") or None,
        temperature=_env_number(env, "CHATBOT_TEMPERATURE", TEMPERATURE),
        top_p=_env_number(env, "CHATBOT_TOP_P", TOP_P),
        max_tokens=_env_int(env, "CHATBOT_MAX_TOKENS", MAX_TOKENS),
        context_window=_env_int(env, "CHATBOT_CONTEXT_WINDOW", CONTEXT_WINDOW),
    )
    flag_layer = ParamOverrides(
        model=_opt(flag("model"), str),
        temperature=_opt(flag("temperature"), float),
        top_p=_opt(flag("top_p"), float),
        max_tokens=_opt(flag("max_tokens"), int),
        context_window=_opt(flag("context_window"), int),
    )

    api_key = env.get("OPENAI_API_KEY") or ""
    base_url = _opt(flag("base_url"), str) or env.get("OPENAI_BASE_URL") or None
    local_model_raw = _opt(flag("local_model"), str) or env.get("CHATBOT_LOCAL_MODEL") or None
    local_reason: str | None = None
    local_env = _flag(env.get("CHATBOT_LOCAL"))
    chose_local_in_env = bool(env.get("CHATBOT_LOCAL_MODEL")) or bool(local_env)
    if flag("local") or flag("local_model") or (chose_local_in_env and not flag("base_url")):
        local_reason = "flag"
    elif not api_key and not base_url:
        # CHATBOT_LOCAL=0 keeps the local model from being chosen by default.
        if not local_available or local_env is False:
            raise ConfigError(SETUP_HELP)
        local_reason = "default"
    if local_reason is not None:
        # The embedded server decides its own URL; a configured one is not used.
        base_url = None
    if base_url is not None:
        base_url = base_url.strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base URL must start with http:// or https://, got {base_url!r}")

    timeout = _opt(flag("timeout"), float) or _env_number(env, "CHATBOT_TIMEOUT", TIMEOUT)
    retries = _opt(flag("retries"), int)
    if retries is None:
        retries = _env_int(env, "CHATBOT_RETRIES", RETRIES)
    max_wait = _opt(flag("max_wait"), float) or _env_number(env, "CHATBOT_RETRY_MAX_WAIT", MAX_WAIT)
    store = _opt(flag("db"), str) or env.get("CHATBOT_DB") or None
    include_usage = _flag(env.get("CHATBOT_STREAM_USAGE"))
    return Config(
        api_key=Secret(api_key or "not-needed"),
        base_url=base_url,
        timeout=timeout or DEFAULT_TIMEOUT,
        retries=3 if retries is None else retries,
        retry_max_wait=max_wait or 60.0,
        include_usage=True if include_usage is None else include_usage,
        persona_name=_opt(flag("persona"), str) or env.get("CHATBOT_PERSONA") or None,
        overrides=flag_layer.over(env_layer),
        store_path=Path(store).expanduser() if store else None,
        no_store=bool(flag("no_store")),
        cache=bool(flag("cache")) or bool(_flag(env.get("CHATBOT_CACHE"))),
        markdown=_opt(flag("markdown"), bool),
        overflow=_overflow(_opt(flag("overflow"), str) or env.get("CHATBOT_OVERFLOW")),
        think=_think(_opt(flag("think"), str), name="--think")
        or _think(env.get("CHATBOT_THINK"), name="CHATBOT_THINK"),
        local=local_reason is not None,
        local_reason=local_reason,
        local_model=local_model_raw.strip() if local_model_raw else None,
        warnings=tuple(warnings),
    )


def _opt(value: object | None, kind: type[_T]) -> _T | None:
    """A flag's value, checked to be of the type the argument parser produced."""
    if value is None:
        return None
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return kind(value)  # type: ignore[call-arg]
    if not isinstance(value, kind):
        raise ConfigError(f"internal: expected {kind.__name__}, got {type(value).__name__}")
    return value


def default_dotenv_files(config_dir: Path) -> list[Path]:
    """``.env`` in the current folder first, then in the user config folder."""
    return [Path(os.getcwd()) / ".env", config_dir / ".env"]
