"""How tool calls look: one compact line each, and the question before one runs.

Everything shown passes through the sanitiser or is made visible (arguments the
user approves are shown with escapes, not stripped, so nothing is hidden).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from chatbot.cells import cut
from chatbot.i18n import _
from chatbot.render.sanitize import sanitize
from chatbot.text import fold_line
from chatbot.tools.output import visible

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["ToolConsole", "ToolDisplay", "brief_arguments", "progress_text", "size_text"]

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


def progress_text(done: float, total: float | None, message: str | None) -> str:
    """A server's progress as a few words: ``40%``, ``3/7``, ``12 indexing``."""
    if total and total > 0:
        amount = f"{done / total:.0%}" if total == 100 or total == 1 else f"{done:g}/{total:g}"
    else:
        amount = f"{done:g}"
    words = " ".join(visible(message).split())[:40] if message else ""
    return f"{amount} {words}".strip()


class ToolDisplay(Protocol):
    """Where tool activity is shown: a terminal (:class:`ToolConsole`) or a web page."""

    def ask_about(self, name: str, arguments: Mapping[str, Any], *, shell: bool) -> None:
        """What the model wants to run, in full, just before the approval question."""

    def start(self, number: int, name: str, brief: str) -> None:
        """A call starts running; :meth:`finish` follows."""

    def progress(self, done: float, total: float | None, message: str | None) -> None:
        """The server says how far the running call has got (from any thread)."""

    def stop_ticking(self) -> None:
        """The running call returned (its outcome follows with :meth:`finish`)."""

    def finish(self, outcome: str, *, ok: bool = True) -> None: ...

    def cancelled(self, number: int, name: str) -> None:
        """Stopped at the question or while the call ran."""

    def line(self, number: int, name: str, brief: str, outcome: str) -> None:
        """A call that did not run (refused, declined, bad arguments …)."""

    def notice(self, text: str) -> None: ...

    def hint(self, text: str) -> None: ...


class ToolConsole:
    """Prints tool activity on a console: stdout in a chat, stderr in one-shot mode.

    On a terminal, the line of a call that runs shows its elapsed time, and the
    server's progress when it sends some, redrawn every ``tick`` seconds.
    """

    def __init__(
        self,
        *,
        console: Console,
        tick: float | None = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self._open = False
        self._tick = tick
        self._clock = clock
        self._lock = threading.Lock()
        self._running: str | None = None  # the open line's text while a call runs
        self._started = 0.0
        self._progress = ""
        self._redrawn = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

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
        line = f"⚙ #{number} {shown} …"
        self._print(line, style="dim", end="")
        self._open = True
        if not self.console.is_terminal:
            return
        with self._lock:
            self._running, self._started, self._progress = line, self._clock(), ""
        if self._tick is not None:
            self._stop.clear()
            self._ticker = threading.Thread(target=self._ticking, name="tool-ticker", daemon=True)
            self._ticker.start()

    def progress(self, done: float, total: float | None, message: str | None) -> None:
        """The server says how far the call has got (any thread)."""
        with self._lock:
            if self._running is None:
                return
            self._progress = progress_text(done, total, message)
        self._redraw()

    def stop_ticking(self) -> None:
        """The call returned: no more redraws; the line is back to its start."""
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join(timeout=2)
            self._ticker = None
        with self._lock:
            line, self._running = self._running, None
            redrawn, self._redrawn = self._redrawn, False
        if line is not None and redrawn:
            self._write_raw(f"\r\x1b[2K{line}")

    def finish(self, outcome: str, *, ok: bool = True) -> None:
        self.stop_ticking()
        self._print(f" {outcome}", style="dim" if ok else "yellow")
        self._open = False

    def _ticking(self) -> None:
        assert self._tick is not None
        while not self._stop.wait(self._tick):
            self._redraw()

    def _redraw(self) -> None:
        with self._lock:
            if self._running is None:
                return
            seconds = self._clock() - self._started
            extra = f" {seconds:.0f}s" + (f" · {self._progress}" if self._progress else "")
            line = f"{self._running}{extra}"
            width = self.console.width
            if len(line) >= width:
                line = line[: max(1, width - 2)] + "…"
            self._redrawn = True
            self._write_raw(f"\r\x1b[2K{line}")

    def _write_raw(self, text: str) -> None:
        # Straight to the terminal: rich would drop the carriage return.
        self.console.file.write(text)
        self.console.file.flush()

    def cancelled(self, number: int, name: str) -> None:
        """Ctrl-C at the question or while the call ran."""
        self.stop_ticking()
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
        self._print(self._folded(sanitize(text)), style="yellow")

    def hint(self, text: str) -> None:
        self._close_line()
        self._print(self._folded(sanitize(text)), style="dim")

    def _folded(self, text: str) -> str:
        """Between words on a terminal (a notice can be long); one line in a log."""
        return fold_line(text, self.console.width) if self.console.is_terminal else text

    def _close_line(self) -> None:
        if self._open:
            self._print("")
            self._open = False
