"""A streamed reply as page events: each finished block rendered once, the tail replaced.

The terminal's own block splitter (:class:`~chatbot.render.blocks.BlockSplitter`)
finds where finished top-level Markdown blocks end. Each is rendered to safe HTML
once and sent as a ``block`` event the page appends; the unfinished tail is
rendered again at most every ``interval`` seconds and sent as a ``tail`` event the
page puts in place of the last one. So the work per chunk is bounded by the tail,
not the reply, exactly as on the terminal. Thinking is sent as plain text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from chatbot.render.blocks import BlockSplitter
from chatbot.render.sanitize import StreamSanitizer
from chatbot.web.reply_html import markdown_html

__all__ = ["Emit", "PageReplyRenderer"]

#: Sends one event to the page (a JSON object); called from the turn's thread.
Emit = Callable[[Mapping[str, object]], None]


class PageReplyRenderer:
    """Shows one reply in the page: a :class:`~chatbot.render.ReplyRenderer` with ``think``."""

    def __init__(
        self,
        *,
        emit: Emit,
        think: str = "fold",
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit
        self._think_mode = think
        self._interval = interval
        self._clock = clock
        self._answer = StreamSanitizer()
        self._thought = StreamSanitizer()
        self._splitter = BlockSplitter(on_parse=self._count_parse)
        self._parsed_chars = 0
        self._started = False
        self._thinking = False
        self._held_thought: list[str] = []
        self._last_tail = -1e9
        self._last_thought = -1e9
        self._tail_shown = ""
        self._finished = False

    @property
    def parsed_chars(self) -> int:
        """Characters handed to a Markdown parser so far: the measure of work done."""
        return self._parsed_chars

    def feed(self, text: str) -> None:
        clean = self._answer.feed(text)
        if not clean:
            return
        self._begin()
        if self._thinking:
            self._end_thinking()
        self._splitter.append(clean)
        blocks: list[str] = []
        while (cut := self._splitter.next_cut()) is not None:
            blocks.append(self._block_html(self._splitter.tail[:cut]))
            self._splitter.drop(cut)
        now = self._clock()
        if blocks:
            # The finished blocks and the tail that is left, in one event: the page
            # never shows a block twice (in the tail and appended) for a frame.
            self._last_tail = now
            self._tail_shown = self._tail_html(self._splitter.tail)
            self._emit({"t": "block", "html": "".join(blocks), "tail": self._tail_shown})
        elif now - self._last_tail >= self._interval:
            self._last_tail = now
            self._send_tail()

    def think(self, text: str) -> None:
        if self._think_mode == "hide":
            return
        clean = self._thought.feed(text)
        if not clean:
            return
        self._begin()
        self._thinking = True
        self._held_thought.append(clean)
        now = self._clock()
        if now - self._last_thought >= self._interval:
            self._last_thought = now
            self._flush_thought()

    def finish(self) -> None:
        """Send what is left; safe to call twice, and after Stop."""
        if self._finished:
            return
        self._finished = True
        rest = self._thought.flush()
        if rest:
            self._held_thought.append(rest)
        if self._thinking:
            self._end_thinking()
        tail = self._splitter.tail + self._answer.flush()
        if tail.strip():
            self._begin()
            self._emit({"t": "block", "html": self._block_html(tail), "tail": ""})
        elif self._tail_shown:
            self._emit({"t": "tail", "html": ""})
        self._tail_shown = ""

    # -- events ------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._started:
            self._started = True
            self._emit({"t": "reply", "think": self._think_mode})

    def _flush_thought(self) -> None:
        if self._held_thought:
            self._emit({"t": "think", "text": "".join(self._held_thought)})
            self._held_thought.clear()

    def _end_thinking(self) -> None:
        self._flush_thought()
        self._thinking = False
        self._emit({"t": "think_end"})

    def _block_html(self, text: str) -> str:
        self._count_parse(len(text))
        return markdown_html(text)

    def _tail_html(self, text: str) -> str:
        if not text.strip():
            return ""
        self._count_parse(len(text))
        return markdown_html(text)

    def _send_tail(self) -> None:
        markup = self._tail_html(self._splitter.tail)
        if markup != self._tail_shown:
            self._tail_shown = markup
            self._emit({"t": "tail", "html": markup})

    def _count_parse(self, chars: int) -> None:
        self._parsed_chars += chars
