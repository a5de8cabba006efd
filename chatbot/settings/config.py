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
from typing import Protocol, TypeVar

from chatbot.errors import ConfigError
from chatbot.i18n import _
from chatbot.secrets import Secret
from chatbot.settings.catalogue import Price, context_window_for
from chatbot.settings.limits import (
    CONTEXT_WINDOW,
    DEFAULT_THINK,
    MAX_TOKENS,
    MAX_WAIT,
    RETRIES,
    TEMPERATURE,
    TIMEOUT,
    TOP_P,
    OverflowPolicy,
    Range,
    ThinkMode,
)
from chatbot.settings.personas import Persona
from chatbot.settings.user_config import UserConfig

__all__ = [
    "DEFAULT_MODEL",
    "OPENAI_BASE_URL",
    "SETUP_HELP",
    "Config",
    "ConfigFlags",
    "ModelParams",
    "ParamOverrides",
    "ServedModels",
    "load_environment",
    "resolve_config",
]

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT = 60.0
#: Where requests go with a key and no base URL.
OPENAI_BASE_URL = "https://api.openai.com/v1"

SETUP_HELP = (
    "No API key or server configured. Either set OPENAI_API_KEY (in your shell or a .env "
    "file), or point at a local OpenAI-compatible server, e.g. "
    "OPENAI_BASE_URL=http://localhost:11434/v1 for Ollama (see README: Configuration)."
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ConfigFlags:
    """The settings the command line gave, checked by the parser; None means "not given"."""

    persona: str | None = None
    model: str | None = None
    base_url: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    context_window: int | None = None
    timeout: float | None = None
    retries: int | None = None
    overflow: str | None = None
    think: str | None = None
    max_wait: float | None = None
    markdown: bool | None = None
    db: str | None = None
    local: bool = False
    local_model: str | None = None
    no_store: bool = False
    cache: bool = False


class ServedModels(Protocol):
    """What the server a run talks to knows about models (see :class:`chatbot.servers.Server`)."""

    @property
    def default_model(self) -> str | None: ...

    def accepts(self, model: str) -> bool: ...

    def context_window(self, model: str) -> int | None: ...


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
    """What the user asked for in one run: flags over environment over ``.env``, and config.toml.

    Nothing here is learned at run time: the server a run found or started, and the
    context window it really serves, are on :class:`chatbot.servers.Server`.
    """

    api_key: Secret
    #: The server the user configured (flag or environment); None: OpenAI with a key,
    #: else whatever the run finds or starts.
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
    #: What to do when turns no longer fit (None: the persona's, else drop).
    overflow: OverflowPolicy | None = None
    #: How thinking is shown (None: the persona's, else fold).
    think: ThinkMode | None = None
    #: The embedded local model was asked for (``--local``, ``--local-model``, CHATBOT_LOCAL…).
    local: bool = False
    #: ``CHATBOT_LOCAL=0``: never fall back to the embedded model.
    local_refused: bool = False
    #: ``--local-model``: a pulled model's name or a GGUF file (see chatbot.local.model_cache).
    local_model: str | None = None
    #: ``--base-url`` was typed for this run (it outranks a persona's ``provider``).
    base_url_flag: bool = False

    def params_for(self, persona: Persona, served: ServedModels | None = None) -> ModelParams:
        """Effective request parameters with ``persona`` as the layer under the flags.

        ``served`` is the server's word: its default model when nothing names one (and
        when the persona's is not there), and the context it really serves, which only
        a flag, the environment or the persona outrank.
        """
        persona_layer = ParamOverrides(
            temperature=persona.temperature,
            top_p=persona.top_p,
            max_tokens=persona.max_tokens,
            context_window=persona.context_window,
        )
        merged = self.overrides.over(persona_layer)
        model = self.overrides.model
        if model is None and persona.model and (served is None or served.accepts(persona.model)):
            model = persona.model
        if model is None and served is not None:
            model = served.default_model
        model = model or DEFAULT_MODEL
        window = merged.context_window
        if window is None and served is not None:
            window = served.context_window(model)
        if window is None:
            window = context_window_for(model, overrides=self.context_windows)
        return ModelParams(
            model=model,
            temperature=merged.temperature,
            top_p=merged.top_p,
            max_tokens=merged.max_tokens,
            stop=persona.stop,
            context_window=window,
        )

    def think_for(self, persona: Persona) -> ThinkMode:
        """How to show thinking: the flag, environment or ``/think``, else the persona's."""
        return self.think or persona.think or DEFAULT_THINK

    def overflow_for(self, persona: Persona) -> OverflowPolicy:
        """What to do with turns that no longer fit: the flag or environment, else the persona's."""
        return self.overflow or persona.overflow or OverflowPolicy.DROP

    def with_think(self, mode: ThinkMode) -> Config:
        """The same configuration showing thinking as ``mode`` (``/think``)."""
        return replace(self, think=mode)

    def with_model(self, model: str) -> Config:
        """The same configuration with ``model`` chosen by the user (``/model``)."""
        return replace(self, overrides=replace(self.overrides, model=model))

    @property
    def remote_url(self) -> str:
        """Where requests go when no local server is involved: the configured URL, or OpenAI."""
        return self.base_url or OPENAI_BASE_URL


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
            raise ConfigError(
                _("cannot read {path}: {reason}").format(path=path, reason=exc.__class__.__name__)
            ) from None
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            warnings.append(
                _("warning: {path} is readable by other users; run: chmod 600 {path}").format(
                    path=path
                )
            )
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
        raise ConfigError(_("{name} {error}").format(name=name, error=exc)) from None


def _env_int(env: Mapping[str, str], name: str, limits: Range) -> int | None:
    value = _env_number(env, name, limits)
    return None if value is None else int(value)


_Choice = TypeVar("_Choice", OverflowPolicy, ThinkMode)


def _choice(kind: type[_Choice], raw: str | None, *, name: str) -> _Choice | None:
    if raw is None or not raw.strip():
        return None
    try:
        return kind.parse(raw)
    except ValueError as exc:
        raise ConfigError(_("{name} {error}").format(name=name, error=exc)) from None


def _flag(raw: str | None) -> bool | None:
    if raw is None or raw.strip() == "":
        return None
    return raw.strip().lower() not in {"0", "false", "no", "off"}


def resolve_config(
    *,
    flags: ConfigFlags,
    env: Mapping[str, str],
    user_config: UserConfig | None = None,
) -> Config:
    """Build the configuration from parsed flags, the merged environment and ``config.toml``.

    Which server that means (configured, found, or our own) is decided by the run's
    plan (:func:`chatbot.servers.choice.plan_server`), not here.
    """
    env_layer = ParamOverrides(
        model=env.get("CHATBOT_MODEL") or env.get("OPENAI_MODEL") or None,
        temperature=_env_number(env, "CHATBOT_TEMPERATURE", TEMPERATURE),
        top_p=_env_number(env, "CHATBOT_TOP_P", TOP_P),
        max_tokens=_env_int(env, "CHATBOT_MAX_TOKENS", MAX_TOKENS),
        context_window=_env_int(env, "CHATBOT_CONTEXT_WINDOW", CONTEXT_WINDOW),
    )
    flag_layer = ParamOverrides(
        model=flags.model,
        temperature=flags.temperature,
        top_p=flags.top_p,
        max_tokens=flags.max_tokens,
        context_window=flags.context_window,
    )

    api_key = env.get("OPENAI_API_KEY") or ""
    base_url = flags.base_url or env.get("OPENAI_BASE_URL") or None
    local_model_raw = flags.local_model or env.get("CHATBOT_LOCAL_MODEL") or None
    local_env = _flag(env.get("CHATBOT_LOCAL"))
    chose_local_in_env = bool(env.get("CHATBOT_LOCAL_MODEL")) or bool(local_env)
    local = flags.local or bool(flags.local_model) or (chose_local_in_env and not flags.base_url)
    if local:
        # The embedded server decides its own URL; a configured one is not used.
        base_url = None
    if base_url is not None:
        base_url = base_url.strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                _("base URL must start with http:// or https://, got {url}").format(
                    url=repr(base_url)
                )
            )

    timeout = flags.timeout or _env_number(env, "CHATBOT_TIMEOUT", TIMEOUT)
    retries = flags.retries
    if retries is None:
        retries = _env_int(env, "CHATBOT_RETRIES", RETRIES)
    max_wait = flags.max_wait or _env_number(env, "CHATBOT_RETRY_MAX_WAIT", MAX_WAIT)
    store = flags.db or env.get("CHATBOT_DB") or None
    include_usage = _flag(env.get("CHATBOT_STREAM_USAGE"))
    overflow = _choice(OverflowPolicy, flags.overflow, name="--overflow") or _choice(
        OverflowPolicy, env.get("CHATBOT_OVERFLOW"), name="CHATBOT_OVERFLOW"
    )
    think = _choice(ThinkMode, flags.think, name="--think") or _choice(
        ThinkMode, env.get("CHATBOT_THINK"), name="CHATBOT_THINK"
    )
    user = user_config or UserConfig()
    return Config(
        api_key=Secret(api_key or "not-needed"),
        base_url=base_url,
        timeout=timeout or DEFAULT_TIMEOUT,
        retries=3 if retries is None else retries,
        retry_max_wait=max_wait or 60.0,
        include_usage=True if include_usage is None else include_usage,
        persona_name=flags.persona or env.get("CHATBOT_PERSONA") or None,
        overrides=flag_layer.over(env_layer),
        context_windows=user.context_windows,
        prices=user.prices,
        store_path=Path(store).expanduser() if store else None,
        no_store=flags.no_store,
        cache=flags.cache or bool(_flag(env.get("CHATBOT_CACHE"))),
        markdown=flags.markdown,
        overflow=overflow,
        think=think,
        local=local,
        local_refused=local_env is False,
        local_model=local_model_raw.strip() if local_model_raw else None,
        base_url_flag=bool(flags.base_url),
    )


def default_dotenv_files(config_dir: Path) -> list[Path]:
    """``.env`` in the current folder first, then in the user config folder."""
    return [Path(os.getcwd()) / ".env", config_dir / ".env"]
