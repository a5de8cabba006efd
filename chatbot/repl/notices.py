"""One-line messages to the user: errors, warnings and quiet hints.

Everything shown here may contain text from a server or a file, so it is
sanitised first and printed without markup interpretation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.i18n import _
from chatbot.render.sanitize import sanitize

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Notices"]


class Notices:
    """Prints short styled lines to a console."""

    def __init__(self, *, console: Console) -> None:
        self.console = console

    def _line(self, text: str, *, style: str) -> None:
        from rich.text import Text

        self.console.print(Text(sanitize(text), style=style), soft_wrap=True)

    def error(self, text: str) -> None:
        self._line(_("error: {message}").format(message=text), style="bold red")

    def warning(self, text: str) -> None:
        self._line(text, style="yellow")

    def info(self, text: str) -> None:
        self._line(text, style="cyan")

    def hint(self, text: str) -> None:
        self._line(text, style="dim")

    def plain(self, text: str) -> None:
        self._line(text, style="")

    def show(self, level: str, text: str) -> None:
        """``text`` at a named level: "error", "warning", "info" or "hint"."""
        {"error": self.error, "warning": self.warning, "info": self.info}.get(level, self.hint)(
            text
        )
