"""Thinking shown as thinking: a dim live region while it arrives, one line once it ends.

A reasoning model may think for minutes before it answers; a blank screen for that
long looks exactly like a hang. On a terminal the thinking gets a dim region: a
header, "Thinking… 12 s", over its last few lines, wrapped and cropped to the screen,
redrawn at most ``refresh_per_second`` times a second, never writing more for new
text than that text itself, and once a second for the clock. When the answer starts
the region folds to one line, "Thought for 14 s · ~900 tokens", and the answer
renders as any other.

Modes: ``fold`` (the default) as above; ``show`` also leaves all of the thinking in
the scrollback, dim; ``hide`` shows only the header while it thinks and leaves
nothing. Off a terminal there is no live region: ``show`` writes the thinking as
plain text, ``fold`` writes the folded line, ``hide`` nothing.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.text import Text

from chatbot.i18n import _, ngettext
from chatbot.render.sanitize import StreamSanitizer
from chatbot.settings.limits import DEFAULT_THINK, ThinkMode

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live

    from chatbot.render.reply_renderer import ReplyRenderer

__all__ = ["ThinkingDisplay", "ThinkingReplyRenderer", "fold_line"]

_STYLE = "dim"
_BLANK_LINES = re.compile(r"\n\s*\n")
# About what a redrawn row costs beyond its text: cursor movement, erasing, style codes.
_LINE_COST = 16
_HEADER_STYLE = "dim italic"


def _duration(seconds: float) -> str:
    """``0.8 s``, ``14 s``, ``2 min 5 s``."""
    if seconds < 10:
        return _("{seconds:.1f} s").format(seconds=max(seconds, 0.0))
    if seconds < 60:
        return _("{seconds:.0f} s").format(seconds=seconds)
    minutes, rest = divmod(round(seconds), 60)
    return _("{minutes} min {seconds} s").format(minutes=minutes, seconds=rest)


def fold_line(*, seconds: float, tokens: int) -> str:
    """The line the thinking folds to: "Thought for 14 s · ~900 tokens"."""
    return ngettext(
        "Thought for {duration} · ~{tokens:,} token",
        "Thought for {duration} · ~{tokens:,} tokens",
        tokens,
    ).format(duration=_duration(seconds), tokens=tokens)


def _estimate(text: str) -> int:
    from chatbot.tokens import estimate_tokens

    return estimate_tokens(text)


class _View:
    """What the live region draws, built at draw time from the display's state."""

    def __init__(self, display: ThinkingDisplay) -> None:
        self._display = display

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        display = self._display
        text = Text(display.header(), style=_HEADER_STYLE)
        # Leave the cursor's line free so Live never scrolls (see markdown_stream).
        room = min(display.lines, options.size.height - 2)
        # Blank lines between paragraphs would waste the region's few rows.
        tail = _BLANK_LINES.sub("\n", display.tail[-display.keep :]).rstrip()
        if room > 0 and tail.strip():
            rows = Text(tail, style=_STYLE).wrap(console, options.max_width)
            for row in rows[-room:]:
                text.append("\n")
                text.append_text(row)
        lines = console.render_lines(text, options.update(height=None), pad=False)
        display.frame_chars = len(text) + _LINE_COST * len(lines)
        for index, line in enumerate(lines):
            if index:
                yield Segment.line()
            yield from line


class ThinkingDisplay:
    """Shows one reply's thinking while it arrives, and folds it away after.

    ``clock`` is injectable so tests can drive the timer and the throttle.
    """

    def __init__(
        self,
        *,
        console: Console,
        mode: ThinkMode = DEFAULT_THINK,
        clock: Callable[[], float] = time.monotonic,
        refresh_per_second: float = 8.0,
        lines: int = 4,
        count_tokens: Callable[[str], int] = _estimate,
    ) -> None:
        mode = ThinkMode(mode)  # ValueError for a word that is not a mode
        self._console = console
        self.mode = mode
        self.lines = lines
        self._clock = clock
        self._interval = 1.0 / refresh_per_second
        self._count_tokens = count_tokens
        self._sanitizer = StreamSanitizer()
        self._terminal = console.is_terminal and not console.is_dumb_terminal
        # Enough text for the region's rows however the lines wrap.
        self.keep = max(512, 2 * lines * console.width)
        self._parts: list[str] = []
        #: What the region shows: the end of the thinking (``show``: of its last line).
        self.tail = ""
        self._unprinted: list[str] = []  # ``show``: finished lines not yet in scrollback
        self._line: list[str] = []  # ``show``: the line still arriving, in pieces
        self._started: float | None = None
        self._live: Live | None = None
        self._last_refresh = -math.inf
        #: Characters the last frame wrote, and all that new text has redrawn so far.
        self.frame_chars = 0
        self._redrawn = 0
        self._received = 0
        self._wrote_raw = ""  # the last character written off a terminal
        self._folded = False

    @property
    def started(self) -> bool:
        return self._started is not None

    @property
    def text(self) -> str:
        """All the thinking shown so far, sanitised."""
        return "".join(self._parts)

    def header(self) -> str:
        elapsed = 0.0 if self._started is None else self._clock() - self._started
        return _("Thinking… {seconds} s").format(seconds=int(elapsed))

    def feed(self, text: str) -> None:
        """Take the next piece of thinking."""
        if self._folded:
            return
        if self._started is None:
            self._started = self._clock()
        clean = self._sanitizer.feed(text)
        if clean:
            self._parts.append(clean)
            self._received += len(clean)
        if self._terminal:
            self._take(clean)
            self._refresh()
        elif self.mode is ThinkMode.SHOW:
            self._write_raw(clean)

    def fold(self) -> None:
        """The thinking is over (the answer starts, or the reply ended): fold it away.

        Safe to call again, and when no thinking ever came (then it does nothing).
        """
        if self._folded:
            return
        self._folded = True
        if self._started is None:
            return
        seconds = self._clock() - self._started
        rest = self._sanitizer.flush()
        if rest:
            self._parts.append(rest)
        if not self._terminal:
            self._fold_off_terminal(rest, seconds)
            return
        self._take(rest)
        try:
            if self._live is not None:
                live, self._live = self._live, None
                live.stop()
        finally:
            if self.mode is ThinkMode.SHOW:
                self._print_unprinted(final=True)
            if self.mode is not ThinkMode.HIDE:
                line = fold_line(seconds=seconds, tokens=self._count_tokens(self.text))
                self._console.print(Text(line, style=_STYLE))

    # -- on a terminal ---------------------------------------------------

    def _take(self, clean: str) -> None:
        # Only the new piece is searched and only ``keep`` characters are copied, so a
        # long paragraph without a newline costs no more per piece than a short one.
        if self.mode is ThinkMode.SHOW:
            cut = clean.rfind("\n")
            if cut >= 0:
                self._unprinted.append("".join(self._line) + clean[:cut])
                self._line = [clean[cut + 1 :]]
                self.tail = clean[cut + 1 :][-self.keep :]
                return
            self._line.append(clean)
        if self.mode is not ThinkMode.HIDE:
            self.tail = (self.tail + clean)[-self.keep :]

    def _refresh(self) -> None:
        now = self._clock()
        if self._live is None:
            from rich.live import Live

            # The clock ticks once a second on its own; new text redraws, throttled.
            self._live = Live(
                _View(self),
                console=self._console,
                auto_refresh=True,
                refresh_per_second=1,
                transient=True,
                vertical_overflow="crop",
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start(refresh=True)
            self._last_refresh = now
            return
        # Redraws for new text never write more than the thinking itself would, so a
        # slow stream (or a slow link) is not flooded; the clock still ticks each second.
        if now - self._last_refresh >= self._interval and self._redrawn <= self._received:
            self._last_refresh = now
            self._redrawn += self.frame_chars
            if self._unprinted:
                # Printing under Live redraws the region too: one write for both.
                self._print_unprinted(final=False)
            else:
                self._live.refresh()

    def _print_unprinted(self, *, final: bool) -> None:
        lines, self._unprinted = self._unprinted, []
        if final and (last := "".join(self._line)):
            lines.append(last)
            self._line, self.tail = [], ""
        if lines:
            self._console.print(Text("\n".join(lines), style=_STYLE))

    # -- off a terminal --------------------------------------------------

    def _write_raw(self, text: str) -> None:
        if text:
            file = self._console.file
            file.write(text)
            file.flush()
            self._wrote_raw = text[-1]

    def _fold_off_terminal(self, rest: str, seconds: float) -> None:
        if self.mode is ThinkMode.SHOW:
            self._write_raw(rest)
            if self._wrote_raw not in ("", "\n"):
                self._write_raw("\n")
        elif self.mode is ThinkMode.FOLD:
            line = fold_line(seconds=seconds, tokens=self._count_tokens(self.text))
            self._console.print(line, markup=False, highlight=False)


class ThinkingReplyRenderer:
    """A reply renderer that shows the model's thinking before its answer.

    The session calls :meth:`think` for thinking and :meth:`feed` for the answer;
    the first piece of answer folds the thinking away.
    """

    def __init__(self, *, answer: ReplyRenderer, display: ThinkingDisplay) -> None:
        self.answer = answer
        self.display = display
        self._answering = False

    def think(self, text: str) -> None:
        """Take the next piece of thinking (ignored once the answer has begun)."""
        if not self._answering:
            self.display.feed(text)

    def feed(self, text: str) -> None:
        if not self._answering:
            self._answering = True
            self.display.fold()
        self.answer.feed(text)

    def finish(self) -> None:
        try:
            self.display.fold()
        finally:
            self.answer.finish()
