"""Tool output made safe to show and to send: capped, decoded and sanitised.

A command may print a gigabyte or a screenful of escape sequences. Only the
first and last few kilobytes are kept while it runs (memory stays bounded),
and the text is sanitised before it reaches the terminal or the model.
"""

from __future__ import annotations

from chatbot.render.sanitize import sanitize
from chatbot.text import clean_text

__all__ = ["OUTPUT_LIMIT", "HeadTail", "cap_text", "visible"]

#: The most tool output kept, in bytes: the head and the tail, half each.
OUTPUT_LIMIT = 16 * 1024


class HeadTail:
    """Keeps the first and last ``limit // 2`` bytes of a stream, and counts the rest."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self._half = max(1, limit // 2)
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self._half - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            if len(self._tail) > self._half:
                del self._tail[: len(self._tail) - self._half]

    def text(self) -> str:
        """What was kept, decoded and sanitised, with a marker where bytes were left out."""
        omitted = self.total - len(self._head) - len(self._tail)
        head = _clean(bytes(self._head))
        if omitted <= 0:
            return head + _clean(bytes(self._tail))
        marker = f"\n[… {omitted:,} bytes of output left out …]\n"
        return head + marker + _clean(bytes(self._tail))


def _clean(data: bytes) -> str:
    return sanitize(clean_text(data.decode("utf-8", errors="replace")))


def cap_text(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """``text`` sanitised and cut to about ``limit`` bytes, keeping its head and tail."""
    kept = HeadTail(limit)
    kept.feed(text.encode("utf-8", errors="replace"))
    return kept.text()


def visible(text: str) -> str:
    """``text`` with control characters shown as escapes, not acted on or hidden.

    For what the user approves: a command must be seen exactly, so an escape
    sequence in it is shown as ``\\x1b[…`` instead of being removed.
    """
    out = []
    for char in text:
        code = ord(char)
        if char in "\n\t":
            out.append(char)
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif not char.isprintable() and char != " ":
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)
