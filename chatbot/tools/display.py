"""How tool calls look: one compact line each, and the question before one runs.

Everything shown passes through the sanitiser or is made visible (arguments the
user approves are shown with escapes, not stripped, so nothing is hidden).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chatbot.cells import cut
from chatbot.i18n import _
from chatbot.render.sanitize import sanitize
from chatbot.tools.output import visible

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["ToolConsole", "brief_arguments", "size_text"]

_BRIEF = 70
_FULL_ARGUMENTS = 2000


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def brief_arguments(arguments: Mapping[str, Any] | str, *, limit: int = _BRIEF) -> str:
    """Arguments on one short line: a command as typed, anything else as compact JSON."""
    if isinstance(arguments, str):
        text = arguments
    elif set(arguments) == {"command"} and isinstance(arguments["command"], str):
        text = arguments["command"]
    else:
        text = json.dumps(arguments, ensure_ascii=False, separators=(", ", ": "))
    return cut(" ".join(visible(text).split()), limit)


class ToolConsole:
    """Prints tool activity on a console: stdout in a chat, stderr in one-shot mode."""

    def __init__(self, *, console: Console) -> None:
        self.console = console
        self._open = False

    def _print(self, text: str, *, style: str = "", end: str = "\n") -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style), end=end, soft_wrap=True)

    def ask_about(self, name: str, arguments: Mapping[str, Any], *, shell: bool) -> None:
        """What the model wants to run, in full, before the question."""
        self._close_line()
        if shell:
            command = str(arguments.get("command", ""))
            self._print(_("⚙ {name} wants to run:").format(name=name), style="bold yellow")
            self._print(f"  {visible(command)}", style="bold")
            return
        shown = json.dumps(arguments, ensure_ascii=False, indent=1)
        if len(shown) > _FULL_ARGUMENTS:
            shown = shown[:_FULL_ARGUMENTS] + _("… ({count:,} characters in all)").format(
                count=len(shown)
            )
        self._print(_("⚙ {name} wants to run with:").format(name=name), style="bold yellow")
        self._print(visible(shown), style="bold")

    def start(self, number: int, name: str, brief: str) -> None:
        """The start of a call's line; :meth:`finish` completes it."""
        self._close_line()
        shown = f"{name} {brief}" if brief else name
        self._print(f"⚙ #{number} {shown} …", style="dim", end="")
        self._open = True

    def finish(self, outcome: str, *, ok: bool = True) -> None:
        self._print(f" {outcome}", style="dim" if ok else "yellow")
        self._open = False

    def cancelled(self, number: int, name: str) -> None:
        """Ctrl-C at the question or while the call ran."""
        if self._open:
            self.finish(_("cancelled"), ok=False)
        else:
            self._print(
                _("⚙ #{number} {name} → cancelled").format(number=number, name=name),
                style="yellow",
            )

    def line(self, number: int, name: str, brief: str, outcome: str) -> None:
        """A call that did not run (refused, bad arguments …), in one line."""
        self._close_line()
        shown = f"{name} {brief}" if brief else name
        self._print(f"⚙ #{number} {shown} → {outcome}", style="yellow")

    def notice(self, text: str) -> None:
        self._close_line()
        self._print(sanitize(text), style="yellow")

    def hint(self, text: str) -> None:
        self._close_line()
        self._print(sanitize(text), style="dim")

    def _close_line(self) -> None:
        if self._open:
            self._print("")
            self._open = False
