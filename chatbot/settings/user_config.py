"""The user's ``config.toml``: prices and context windows for models we do not know.

Both tables are keyed by a model-name prefix (longest match wins), the same way
as the built-in tables they extend::

    [prices."gpt-4o-mini"]        # US dollars per million tokens
    input = 0.15
    output = 0.60

    [context_windows]
    "qwen2.5-coder" = 32768

``language = "ja"`` (or ``"en"``, or ``"auto"`` for the locale's) sets the language
the program speaks; ``CHATBOT_LANG`` still wins. The ``[mcp_servers.NAME]`` and
``[tools]`` tables are described in :mod:`chatbot.settings.tool_config`. A missing
file is fine; anything else wrong is one line naming the file.
"""

from __future__ import annotations

import math
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chatbot.cells import cut
from chatbot.errors import ConfigError
from chatbot.i18n import LANGUAGES, N_, _, gettext
from chatbot.settings.catalogue import Price, model_key
from chatbot.settings.tomlfile import decode_utf8, parse_toml, read_limited
from chatbot.settings.tool_config import (
    McpServerConfig,
    ToolSettings,
    parse_mcp_servers,
    parse_tool_settings,
)

__all__ = ["LANGUAGE_CHOICES", "UserConfig", "configured_language", "load_user_config"]

_SECTIONS = ("language", "prices", "context_windows", "mcp_servers", "tools")
#: What ``language`` may say; "auto" (like leaving it out) follows the locale.
LANGUAGE_CHOICES = ("auto", *LANGUAGES)
_PRICE_KEYS = ("input", "output")


@dataclass(frozen=True, kw_only=True, slots=True)
class UserConfig:
    """What ``config.toml`` adds to the built-in model tables."""

    prices: Mapping[str, Price] = field(default_factory=dict)
    context_windows: Mapping[str, int] = field(default_factory=dict)
    mcp_servers: tuple[McpServerConfig, ...] = ()
    tools: ToolSettings = field(default_factory=ToolSettings)
    #: The language asked for ("en", "ja"); None follows CHATBOT_LANG and the locale.
    language: str | None = None
    #: Lines to show before the chat starts (a file holding secrets others can read).
    warnings: tuple[str, ...] = ()


def load_user_config(path: Path) -> UserConfig:
    """Read and validate ``path``; an absent file is an empty configuration."""
    label = str(path)
    data = read_limited(
        path, label=label, what=_("config file"), error=ConfigError, missing_ok=True
    )
    if data is None:
        return UserConfig()
    text = decode_utf8(data, label=label, error=ConfigError)
    document = parse_toml(text, label=label, error=ConfigError)
    for key in document:
        if key not in _SECTIONS:
            raise ConfigError(
                _("{path}: unknown key {key!r} (expected {choices})").format(
                    path=path, key=key, choices=", ".join(_SECTIONS)
                )
            )
    servers = parse_mcp_servers(document.get("mcp_servers", {}), path=path)
    return UserConfig(
        prices=_prices(document.get("prices", {}), path=path),
        context_windows=_windows(document.get("context_windows", {}), path=path),
        mcp_servers=servers,
        tools=parse_tool_settings(document.get("tools", {}), path=path),
        language=_language(document.get("language"), path=path),
        warnings=_readable_secrets(path, servers),
    )


def _readable_secrets(path: Path, servers: tuple[McpServerConfig, ...]) -> tuple[str, ...]:
    """A warning when the file holds MCP tokens or headers and others may read it, as
    for ``.env``; the values themselves are never shown."""
    if not any(server.env or server.headers for server in servers):
        return ()
    try:
        mode = path.stat().st_mode
    except OSError:
        return ()
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return ()
    return (
        _(
            "warning: {path} holds MCP server env or headers and is readable by other "
            "users; run: chmod 600 {path}"
        ).format(path=path),
    )


def configured_language(path: Path) -> str | None:
    """``language`` from the config file, read leniently: any problem means None.

    Read at start-up, before the file is checked properly (which reports its
    mistakes, in the chosen language); so this never raises.
    """
    try:
        import tomllib

        with path.open("rb") as handle:
            value = tomllib.load(handle).get("language")
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, str) and value in LANGUAGES else None


def _language(value: object, *, path: Path) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in LANGUAGE_CHOICES:
        raise ConfigError(
            _("{path}: language must be one of {choices}, got {value}").format(
                path=path, choices=", ".join(repr(c) for c in LANGUAGE_CHOICES), value=_shown(value)
            )
        )
    return None if value == "auto" else value


def _table(value: object, *, what: str, path: Path) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ConfigError(
            _("{path}: {what} must be a table, got {kind}").format(
                path=path, what=what, kind=_kind(value)
            )
        )
    return value


def _model(name: str, *, section: str, path: Path) -> str:
    key = model_key(name)
    if not key:
        raise ConfigError(
            _("{path}: [{section}] has an empty model name {name!r}").format(
                path=path, section=section, name=name
            )
        )
    return key


def _prices(value: object, *, path: Path) -> dict[str, Price]:
    prices: dict[str, Price] = {}
    for name, entry in _table(value, what="'prices'", path=path).items():
        where = _("prices for {name!r}").format(name=name)
        table = _table(entry, what=where, path=path)
        for key in table:
            if key not in _PRICE_KEYS:
                raise ConfigError(
                    _("{path}: {where}: unknown key {key!r} (expected input, output)").format(
                        path=path, where=where, key=key
                    )
                )
        amounts: list[float] = []
        for key in _PRICE_KEYS:
            if key not in table:
                raise ConfigError(
                    _("{path}: {where}: missing {key!r} (US$ per million tokens)").format(
                        path=path, where=where, key=key
                    )
                )
            amount = table[key]
            if (
                isinstance(amount, bool)
                or not isinstance(amount, int | float)
                or not math.isfinite(amount)
                or amount < 0
            ):
                raise ConfigError(
                    _(
                        "{path}: {where}: {key!r} must be a number of US$ per million tokens, "
                        "0 or more, got {shown}"
                    ).format(path=path, where=where, key=key, shown=_shown(amount))
                )
            amounts.append(float(amount))
        prices[_model(name, section="prices", path=path)] = Price(amounts[0], amounts[1])
    return prices


def _windows(value: object, *, path: Path) -> dict[str, int]:
    windows: dict[str, int] = {}
    for name, size in _table(value, what="'context_windows'", path=path).items():
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ConfigError(
                _(
                    "{path}: context window for {name!r} must be a positive whole number "
                    "of tokens, got {shown}"
                ).format(path=path, name=name, shown=_shown(size))
            )
        windows[_model(name, section="context_windows", path=path)] = size
    return windows


def _shown(value: object) -> str:
    """A value for an error line: short, and never more than one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return cut(repr(value), 40)  # repr escapes newlines
    return _kind(value)


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return _("a table")
    if isinstance(value, list):
        return _("a list")
    names = {str: N_("a string"), int: N_("a number"), float: N_("a number"), bool: "true/false"}
    return gettext(names.get(type(value), N_("a date or time")))
