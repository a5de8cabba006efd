"""Streaming Markdown: finished blocks go to scrollback once, only the tail stays live.

Re-rendering the whole reply on every chunk is quadratic and corrupts scrollback once
the reply is taller than the screen. Instead the text is cut into *finished blocks*,
each printed exactly once with rich, and an *unfinished tail*, redrawn in a transient
``Live`` cropped to the screen and throttled. A cut is only made where a Markdown parse
of the tail shows a top-level block boundary, so printing the blocks one by one gives
the same output as one render of the whole reply. Each new line is scanned once; a
parse covers only the tail, so the work per chunk is bounded by the tail, not the reply.

Known gap: a link reference definition (``[x]: url``) only applies to blocks printed
after it has arrived, and not to those printed before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from rich.console import Group, NewLine
from rich.live import Live
from rich.markdown import Markdown, MarkdownElement, UnknownElement
from rich.segment import Segment

from chatbot.render.blocks import BlockSplitter
from chatbot.render.reply_markdown import reply_markdown
from chatbot.render.sanitize import StreamSanitizer

if TYPE_CHECKING:
    from markdown_it.token import Token
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.style import Style

__all__ = ["MarkdownStreamRenderer", "reply_markdown"]

# Token types rich's Markdown handles without touching its element stack.
_INLINE_ONLY = frozenset(
    {"text", "hardbreak", "softbreak", "link_open", "link_close", "html_inline"}
)


def _flatten(tokens: Iterable[Token]) -> Iterator[Token]:
    """Tokens in the order rich's Markdown walks them."""
    for token in tokens:
        if token.children and not (token.tag == "img" or token.type == "fence"):
            yield from _flatten(token.children)
        else:
            yield token


def _takes_over_children(element: type[MarkdownElement]) -> bool:
    # rich's containers override on_child_close to collect children instead of
    # letting them render (and emit their separating blank line) themselves.
    return element.on_child_close is not MarkdownElement.on_child_close


def _separation(tokens: Sequence[Token], carried: bool) -> tuple[bool, bool]:
    """Mirror rich's blank-line logic across a cut between two renders.

    rich puts a blank line before an element when the element closed before it
    asked for one (``new_line``). Rendered alone, a block starts with that state
    False; after earlier blocks it starts with ``carried``. Return whether the block
    needs a blank line its own render lacks, and the state it leaves behind.
    """
    stack: list[type[MarkdownElement]] = []
    needs_gap: bool | None = None
    state = carried
    for token in _flatten(tokens):
        kind = token.type
        if kind in _INLINE_ONLY or (
            token.tag in Markdown.inlines and kind not in ("fence", "code_block")
        ):
            continue
        element = Markdown.elements.get(kind) or UnknownElement
        if token.nesting == 1:
            stack.append(element)
            continue
        if token.nesting == -1:
            element = stack.pop()
        if needs_gap is None:
            renders = not (stack and _takes_over_children(stack[-1]))
            needs_gap = carried and renders and not (token.nesting == 0 and kind == "inline")
        state = element.new_line
    return bool(needs_gap), state


def _shows_blank(style: Style | None) -> bool:
    """Whether a space in this style is visible (a background, an underline...)."""
    if style is None:
        return False
    return bool(
        style.bgcolor is not None
        or style.reverse
        or style.underline
        or style.underline2
        or style.strike
        or style.overline
    )


def _rstrip(line: list[Segment], *, styled: bool) -> list[Segment]:
    """Drop invisible trailing padding: the live tail is redrawn often, bytes count.

    ``styled`` says whether the console shows styles at all.
    """
    line = list(line)
    while line:
        segment = line[-1]
        if segment.control or (styled and _shows_blank(segment.style)):
            break
        text = segment.text.rstrip(" ")
        if text:
            line[-1] = Segment(text, segment.style)
            break
        line.pop()
    return line


class _TailView:
    """The live part of the reply: its unfinished tail, cropped to the screen's bottom."""

    def __init__(self, tail: Callable[[], RenderableType | None]) -> None:
        self._tail = tail

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Built at draw time, so every redraw (even one that rich triggers while a
        # finished block is printed) shows the tail as it is now.
        renderable = self._tail()
        if renderable is None:
            return
        lines = console.render_lines(renderable, options.update(height=None), pad=False)
        # Leave the cursor's line free so Live never scrolls: what scrolls off the top
        # of the screen can no longer be redrawn, and would be left behind as junk.
        shown = lines[-max(1, options.size.height - 1) :]
        for index, line in enumerate(shown, start=1):
            yield from _rstrip(line, styled=console.color_system is not None)
            if index < len(shown):
                yield Segment.line()


class MarkdownStreamRenderer:
    """Render a streamed Markdown reply to a rich console.

    On a terminal, finished blocks are printed into scrollback as they complete and
    the rest is shown live; elsewhere blocks are printed as they complete and the rest
    at :meth:`finish`. ``clock`` is injectable so tests can drive the throttle.
    """

    def __init__(
        self,
        *,
        console: Console,
        code_theme: str = "monokai",
        refresh_per_second: float = 12.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_per_second <= 0:
            raise ValueError("refresh_per_second must be positive")
        self._console = console
        self._code_theme = code_theme
        self._interval = 1.0 / refresh_per_second
        self._clock = clock
        self._sanitizer = StreamSanitizer()
        self._splitter = BlockSplitter(on_parse=self._count_parse)
        self._use_live = console.is_terminal and not console.is_dumb_terminal
        self._live: Live | None = None
        self._last_refresh = -math.inf
        # rich's blank-line state after what is already in scrollback.
        self._separation_state = False
        # What the live view shows: the tail from this offset, after this state.
        self._view_start = 0
        self._view_state = False
        self._parsed_chars = 0
        self._finished = False

    @property
    def parsed_chars(self) -> int:
        """Characters handed to a Markdown parser so far: the measure of work done."""
        return self._parsed_chars

    def think(self, text: str) -> None:
        """Thinking is not the answer: shown only by a ThinkingReplyRenderer around this one."""

    def feed(self, text: str) -> None:
        """Take the next streamed chunk of the reply."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        clean = self._sanitizer.feed(text)
        if not clean:
            return
        self._splitter.append(clean)
        self._print_finished_blocks()
        if self._use_live:
            self._refresh_live()

    def finish(self) -> None:
        """Leave the whole reply in scrollback; safe to call again, and after Ctrl-C."""
        if self._finished:
            return
        self._finished = True
        try:
            self._splitter.append(self._sanitizer.flush())
        finally:
            if self._live is not None:
                live, self._live = self._live, None
                live.stop()
        self._print_block(self._splitter.tail)

    def _print_finished_blocks(self) -> None:
        printed = False
        while (cut := self._splitter.next_cut()) is not None:
            blocks = self._splitter.tail[:cut]
            self._view_start = cut
            try:
                self._print_block(blocks)
            finally:
                # Interrupted mid-print, the blocks stay in the tail for finish().
                self._view_start = 0
                self._view_state = self._separation_state
            self._splitter.drop(cut)
            printed = True
        if printed and self._live is not None:
            # Printing under Live redraws the tail too: that counts as a refresh.
            self._last_refresh = self._clock()

    def _print_block(self, text: str) -> None:
        markdown = self._markdown(text)
        if not markdown.parsed:
            return
        gap, state = _separation(markdown.parsed, self._separation_state)
        self._view_state = state
        self._console.print(Group(NewLine(), markdown) if gap else markdown)
        self._separation_state = state

    def _markdown(self, text: str) -> Markdown:
        self._count_parse(len(text))
        return reply_markdown(text, code_theme=self._code_theme)

    def _tail_renderable(self) -> RenderableType | None:
        text = self._splitter.tail[self._view_start :]
        if not text.strip():
            return None
        markdown = self._markdown(text)
        gap, _ = _separation(markdown.parsed, self._view_state)
        return Group(NewLine(), markdown) if gap else markdown

    def _refresh_live(self) -> None:
        if self._live is None:
            if not self._splitter.tail.strip():
                return
            self._live = Live(
                _TailView(self._tail_renderable),
                console=self._console,
                auto_refresh=False,
                transient=True,
                vertical_overflow="crop",
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        now = self._clock()
        if now - self._last_refresh >= self._interval:
            self._last_refresh = now
            self._live.refresh()

    def _count_parse(self, chars: int) -> None:
        self._parsed_chars += chars
