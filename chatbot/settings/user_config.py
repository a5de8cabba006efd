"""The user's ``config.toml``: prices and context windows for models we do not know.

Both tables are keyed by a model-name prefix (longest match wins), the same way
as the built-in tables they extend::

    [prices."gpt-4o-mini"]        # US dollars per million tokens
    input = 0.15
    output = 0.60

    [context_windows]
    "qwen2.5-coder" = 32768

The ``[mcp_servers.NAME]`` and ``[tools]`` tables are described in
:mod:`chatbot.settings.tool_config`. A missing file is fine; anything else
wrong is one line naming the file.
"""

from __future__ import annotations

import math
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chatbot.errors import ConfigError
from chatbot.settings.catalogue import Price, model_key
from chatbot.settings.tomlfile import decode_utf8, parse_toml, read_limited
from chatbot.settings.tool_config import (
    McpServerConfig,
    ToolSettings,
    parse_mcp_servers,
    parse_tool_settings,
)

__all__ = ["UserConfig", "load_user_config"]

_SECTIONS = ("prices", "context_windows", "mcp_servers", "tools")
_PRICE_KEYS = ("input", "output")


@dataclass(frozen=True, kw_only=True, slots=True)
class UserConfig:
    """What ``config.toml`` adds to the built-in model tables."""

    prices: Mapping[str, Price] = field(default_factory=dict)
    context_windows: Mapping[str, int] = field(default_factory=dict)
    mcp_servers: tuple[McpServerConfig, ...] = ()
    tools: ToolSettings = field(default_factory=ToolSettings)
    #: Lines to show before the chat starts (a file holding secrets others can read).
    warnings: tuple[str, ...] = ()


def load_user_config(path: Path) -> UserConfig:
    """Read and validate ``path``; an absent file is an empty configuration."""
    label = str(path)
    data = read_limited(path, label=label, what="config file", error=ConfigError, missing_ok=True)
    if data is None:
        return UserConfig()
    text = decode_utf8(data, label=label, error=ConfigError)
    document = parse_toml(text, label=label, error=ConfigError)
    for key in document:
        if key not in _SECTIONS:
            raise ConfigError(f"{path}: unknown key {key!r} (expected {', '.join(_SECTIONS)})")
    servers = parse_mcp_servers(document.get("mcp_servers", {}), path=path)
    return UserConfig(
        prices=_prices(document.get("prices", {}), path=path),
        context_windows=_windows(document.get("context_windows", {}), path=path),
        mcp_servers=servers,
        tools=parse_tool_settings(document.get("tools", {}), path=path),
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
        f"warning: {path} holds MCP server env or headers and is readable by other users; "
        f"run: chmod 600 {path}",
    )


def _table(value: object, *, what: str, path: Path) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {what} must be a table, got {_kind(value)}")
    return value


def _model(name: str, *, section: str, path: Path) -> str:
    key = model_key(name)
    if not key:
        raise ConfigError(f"{path}: [{section}] has an empty model name {name!r}")
    return key


def _prices(value: object, *, path: Path) -> dict[str, Price]:
    prices: dict[str, Price] = {}
    for name, entry in _table(value, what="'prices'", path=path).items():
        where = f"prices for {name!r}"
        table = _table(entry, what=where, path=path)
        for key in table:
            if key not in _PRICE_KEYS:
                raise ConfigError(f"{path}: {where}: unknown key {key!r} (expected input, output)")
        amounts: list[float] = []
        for key in _PRICE_KEYS:
            if key not in table:
                raise ConfigError(f"{path}: {where}: missing {key!r} (US$ per million tokens)")
            amount = table[key]
            if (
                isinstance(amount, bool)
                or not isinstance(amount, int | float)
                or not math.isfinite(amount)
                or amount < 0
            ):
                raise ConfigError(
                    f"{path}: {where}: {key!r} must be a number of US$ per million tokens, "
                    f"0 or more, got {_shown(amount)}"
                )
            amounts.append(float(amount))
        prices[_model(name, section="prices", path=path)] = Price(amounts[0], amounts[1])
    return prices


def _windows(value: object, *, path: Path) -> dict[str, int]:
    windows: dict[str, int] = {}
    for name, size in _table(value, what="'context_windows'", path=path).items():
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ConfigError(
                f"{path}: context window for {name!r} must be a positive whole number of "
                f"tokens, got {_shown(size)}"
            )
        windows[_model(name, section="context_windows", path=path)] = size
    return windows


def _shown(value: object) -> str:
    """A value for an error line: short, and never more than one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 40 else text[:39] + "…"
    if isinstance(value, str):
        text = repr(value)  # repr escapes newlines
        return text if len(text) <= 40 else text[:39] + "…"
    return _kind(value)


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    names = {str: "a string", int: "a number", float: "a number", bool: "true/false"}
    return names.get(type(value), "a date or time")
