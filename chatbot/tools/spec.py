"""What a tool is, as the model sees it: a name, a description and JSON Schema parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SEPARATOR", "SHELL_SPEC", "ToolSpec", "model_name"]

#: Between server and tool in the names the model sees: ``server__tool``.
SEPARATOR = "__"
#: What OpenAI-compatible servers accept as a function name.
_INVALID = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolSpec:
    """One tool offered to the model."""

    #: The name the model calls: ``shell``, or ``server__tool`` for an MCP tool.
    name: str
    description: str
    #: JSON Schema of the arguments object.
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    #: The MCP server it belongs to; None for the built-in shell.
    server: str | None = None
    #: The tool's own name on its server.
    remote_name: str = ""
    #: Why the model is not offered this tool ("" when it is), for ``/tools``.
    unavailable: str = ""

    def to_openai(self) -> dict[str, Any]:
        """The entry of the request's ``tools`` list."""
        parameters = dict(self.parameters) if self.parameters else {}
        if parameters.get("type") != "object":
            parameters = {"type": "object", "properties": {}}
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description[:1024],
                "parameters": parameters,
            },
        }


def model_name(server: str, tool: str, *, taken: Iterable[str] = ()) -> str:
    """``server__tool``, made of the characters function names allow and unique among ``taken``."""
    base = _INVALID.sub("_", f"{server}{SEPARATOR}{tool}")[:_MAX_NAME]
    used = set(taken)
    name, number = base, 2
    while name in used:
        suffix = f"_{number}"
        name = base[: _MAX_NAME - len(suffix)] + suffix
        number += 1
    return name


#: The built-in tool (see :mod:`chatbot.tools.shell` for how it runs).
SHELL_SPEC = ToolSpec(
    name="shell",
    description=(
        "Run one shell command (/bin/sh) on the user's computer and get its output "
        "(stdout and stderr, up to 16 KB). The user sees the exact command and approves "
        "each run. It runs without a terminal and without input, with a time limit, so "
        "use non-interactive commands (e.g. `ping -c 3 example.org`, not `ping`). "
        "Commands needing sudo or other administrator rights are refused: give those "
        "to the user to run themselves."
    ),
    parameters={
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "the command line to run"},
        },
        "required": ["command"],
        "additionalProperties": False,
    },
)
