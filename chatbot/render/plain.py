"""Raw reply text for pipes and plain mode: no wrapping, no colour, no Markdown."""

from __future__ import annotations

from typing import IO

from chatbot.render.sanitize import StreamSanitizer

__all__ = ["PlainRenderer"]


class PlainRenderer:
    """Write the reply exactly as it arrives, minus terminal control sequences.

    Output is flushed on every feed so a reader at the other end of a pipe sees the
    reply as it streams.
    """

    def __init__(self, *, file: IO[str]) -> None:
        self._file = file
        self._sanitizer = StreamSanitizer()
        self._last_char = ""
        self._finished = False

    def think(self, text: str) -> None:
        """Thinking is not the answer: shown only by a ThinkingReplyRenderer around this one."""

    def feed(self, text: str) -> None:
        """Write one streamed chunk."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        self._write(self._sanitizer.feed(text))

    def finish(self) -> None:
        """End the reply on a newline; safe to call more than once."""
        if self._finished:
            return
        self._finished = True
        self._write(self._sanitizer.flush())
        # Nothing written means nothing to end: an empty reply adds no blank line.
        if self._last_char not in ("", "\n"):
            self._write("\n")

    def _write(self, text: str) -> None:
        if not text:
            return
        self._file.write(text)
        self._file.flush()
        self._last_char = text[-1]
