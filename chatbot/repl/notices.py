"""One-line messages to the user: errors, warnings and quiet hints.

Everything shown here may contain text from a server or a file, so it is
sanitised first and printed without markup interpretation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.i18n import _
from chatbot.render.sanitize import sanitize
from chatbot.text import fold_line

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Notices"]


class Notices:
    """Prints short styled lines to a console."""

    def __init__(self, *, console: Console) -> None:
        self.console = console

    def _line(self, text: str, *, style: str, fold: bool = False) -> None:
        from rich.text import Text

        shown = sanitize(text)
        if fold and self.console.is_terminal:
            # Between words, not wherever the terminal's width happens to end.
            shown = fold_line(shown, self.console.width, indent=2)
        self.console.print(Text(shown, style=style), soft_wrap=True)

    def error(self, text: str) -> None:
        self._line(_("error: {message}").format(message=text), style="bold red", fold=True)

    def warning(self, text: str) -> None:
        self._line(text, style="yellow", fold=True)

    def info(self, text: str) -> None:
        self._line(text, style="cyan", fold=True)

    def hint(self, text: str) -> None:
        self._line(text, style="dim", fold=True)

    def plain(self, text: str) -> None:
        self._line(text, style="")

    def show(self, level: str, text: str) -> None:
        """``text`` at a named level: "error", "warning", "info" or "hint"."""
        {"error": self.error, "warning": self.warning, "info": self.info}.get(level, self.hint)(
            text
        )
