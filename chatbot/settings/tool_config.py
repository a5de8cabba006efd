"""The tool sections of ``config.toml``: MCP servers and the tool limits.

::

    [mcp_servers.files]                 # a server started as a child process (stdio)
    command = "npx"
    args = ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"]
    env = { LOG_LEVEL = "warn" }        # added to a minimal environment (PATH, HOME, …)
    trust = true                        # run its tools without asking

    [mcp_servers.search]                # a server reached over streamable HTTP
    url = "https://mcp.example.com/mcp"
    headers = { Authorization = "Bearer …" }
    # transport = "sse"                 # the older HTTP+SSE transport (found by itself
    #                                   # when the URL ends in /sse or streamable HTTP 404s)

    [tools]
    max_rounds = 8                      # tool rounds per turn before the chat stops asking
    shell_timeout = 30                  # seconds a shell command may run

Every mistake is one line naming the file, as for the rest of ``config.toml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chatbot.errors import ConfigError
from chatbot.i18n import _, gettext
from chatbot.settings.limits import TOOL_ROUNDS, TOOL_TIMEOUT, Range

__all__ = ["McpServerConfig", "ToolSettings", "parse_mcp_servers", "parse_tool_settings"]

#: Server names: they prefix tool names (``name__tool``), so no double underscore.
_SERVER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]|_(?!_)){0,31}")
_SERVER_KEYS = (
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "transport",
    "trust",
    "timeout",
)
#: What ``transport`` may say for a ``url`` server; "" finds out.
_HTTP_TRANSPORTS = ("streamable-http", "sse")
_TOOL_KEYS = ("max_rounds", "shell_timeout")


@dataclass(frozen=True, kw_only=True, slots=True)
class McpServerConfig:
    """One ``[mcp_servers.NAME]`` table."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Run this server's tools without asking each time.
    trust: bool = False
    #: Seconds one call may take.
    timeout: float = 60.0
    #: For a ``url``: "streamable-http", "sse" (the older HTTP+SSE), or "" to find out.
    http_transport: str = ""

    @property
    def transport(self) -> str:
        if not self.url:
            return "stdio"
        return "sse" if self.http_transport == "sse" else "http"


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolSettings:
    """The ``[tools]`` table."""

    max_rounds: int = 8
    shell_timeout: float = 30.0


def parse_mcp_servers(value: object, *, path: Path) -> tuple[McpServerConfig, ...]:
    if not isinstance(value, dict):
        raise ConfigError(
            _("{path}: 'mcp_servers' must be a table of [mcp_servers.NAME] tables").format(
                path=path
            )
        )
    servers = []
    for name, table in value.items():
        if not _SERVER_NAME.fullmatch(name):
            raise ConfigError(
                _(
                    "{path}: invalid MCP server name {name!r} (up to 32 lowercase letters, "
                    "digits, '-' and single '_', starting with a letter or digit)"
                ).format(path=path, name=name)
            )
        servers.append(_server(name, table, where=f"{path}: [mcp_servers.{name}]"))
    return tuple(servers)


def _server(name: str, table: object, *, where: str) -> McpServerConfig:
    if not isinstance(table, dict):
        raise ConfigError(_("{where} must be a table").format(where=where))
    for key in table:
        if key not in _SERVER_KEYS:
            raise ConfigError(
                _("{where}: unknown key {key!r} (expected {choices})").format(
                    where=where, key=key, choices=", ".join(_SERVER_KEYS)
                )
            )
    command = _optional_text(table, "command", where)
    url = _optional_text(table, "url", where)
    if (command is None) == (url is None):
        raise ConfigError(
            _("{where}: set either command (a local server) or url (over HTTP)").format(where=where)
        )
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(_("{where}: url must start with http:// or https://").format(where=where))
    if command is None and any(key in table for key in ("args", "env", "cwd")):
        raise ConfigError(
            _("{where}: args, env and cwd go with command, not url").format(where=where)
        )
    if url is None and "headers" in table:
        raise ConfigError(_("{where}: headers go with url, not command").format(where=where))
    transport = _optional_text(table, "transport", where) or ""
    if transport and url is None and transport != "stdio":
        raise ConfigError(
            _("{where}: transport {transport!r} goes with url, not command").format(
                where=where, transport=transport
            )
        )
    if url is not None and transport and transport not in _HTTP_TRANSPORTS:
        raise ConfigError(
            _("{where}: transport must be streamable-http or sse").format(where=where)
        )
    args = table.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(_("{where}: args must be a list of strings").format(where=where))
    cwd = _optional_text(table, "cwd", where)
    trust = table.get("trust", False)
    if not isinstance(trust, bool):
        raise ConfigError(_("{where}: trust must be true or false").format(where=where))
    return McpServerConfig(
        name=name,
        command=command,
        args=tuple(args),
        env=_strings(table, "env", where),
        cwd=Path(cwd).expanduser() if cwd else None,
        url=url,
        headers=_strings(table, "headers", where),
        trust=trust,
        timeout=_number(table, "timeout", where, TOOL_TIMEOUT, default=60.0),
        http_transport=transport if url is not None else "",
    )


def parse_tool_settings(value: object, *, path: Path) -> ToolSettings:
    where = f"{path}: [tools]"
    if not isinstance(value, dict):
        raise ConfigError(_("{where} must be a table").format(where=where))
    for key in value:
        if key not in _TOOL_KEYS:
            raise ConfigError(
                _("{where}: unknown key {key!r} (expected {choices})").format(
                    where=where, key=key, choices=", ".join(_TOOL_KEYS)
                )
            )
    return ToolSettings(
        max_rounds=int(_number(value, "max_rounds", where, TOOL_ROUNDS, default=8)),
        shell_timeout=_number(value, "shell_timeout", where, TOOL_TIMEOUT, default=30.0),
    )


def _optional_text(table: dict[str, object], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            _("{where}: {key} must be a non-empty string").format(where=where, key=key)
        )
    return value.strip()


def _strings(table: dict[str, object], key: str, where: str) -> dict[str, str]:
    value = table.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(
            _('{where}: {key} must be a table of strings, like {{ NAME = "value" }}').format(
                where=where, key=key
            )
        )
    return {str(k): v for k, v in value.items()}


def _number(
    table: dict[str, object], key: str, where: str, limits: Range, *, default: float
) -> float:
    value = table.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or (limits.integer and not isinstance(value, int))
        or not limits.contains(value)
    ):
        raise ConfigError(
            _("{where}: {key} must be {hint}").format(
                where=where, key=key, hint=gettext(limits.hint)
            )
        )
    return float(value)
