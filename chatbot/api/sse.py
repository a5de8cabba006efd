"""Server-sent events read straight from the response bytes.

The SDK's decoder drops every field but ``data``, ``event``, ``id`` and
``retry``, so llama.cpp's mid-stream ``error: {...}`` line vanished and a failed
reply looked finished. This decoder keeps that field, and is all the SSE a chat
stream needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["Damage", "SseEvent", "decode", "iter_sse"]

_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event: its ``data`` lines, or llama.cpp's ``error`` lines."""

    data: str
    #: True for an ``error:`` field, or ``event: error``: the server reports a failure.
    error: bool = False


class Damage:
    """Counts the bytes of a body that were not UTF-8 (each became U+FFFD)."""

    def __init__(self) -> None:
        self.replaced_bytes = 0


def decode(raw: bytes, damage: Damage | None) -> str:
    """``raw`` as UTF-8; bytes that are not become U+FFFD and are counted in ``damage``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if damage is not None:
            damage.replaced_bytes += len(raw) - len(raw.decode("utf-8", "ignore").encode())
        return raw.decode("utf-8", "replace")


class _LineSplitter:
    """Splits byte chunks into lines ending in CR, LF or CRLF, across chunk boundaries."""

    def __init__(self) -> None:
        self._partial: list[bytes] = []
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        # A CR at the very end may be the first half of a CRLF split across chunks.
        self._skip_lf = chunk[-1:] == b"\r"
        *lines, last = _LINE_END.split(chunk)
        if lines and self._partial:
            lines[0] = b"".join(self._partial) + lines[0]
            self._partial.clear()
        if last:
            self._partial.append(last)
        return lines


def iter_sse(chunks: Iterable[bytes], damage: Damage | None = None) -> Iterator[SseEvent]:
    """Events from a byte stream, as the SSE spec dispatches them (at blank lines).

    An event still open when the body ends is dispatched too: a server that
    closes without the final blank line has still said what it said. A line
    without its line end at the very end is incomplete and dropped. Bytes that
    are not UTF-8 become U+FFFD, counted in ``damage``: one bad byte must not
    cost the rest of the reply.
    """
    splitter = _LineSplitter()
    data: list[str] = []
    errors: list[str] = []
    named_error = False
    for chunk in chunks:
        for raw in splitter.feed(chunk):
            if not raw:
                if errors:
                    yield SseEvent("\n".join(errors), error=True)
                elif data:
                    yield SseEvent("\n".join(data), error=named_error)
                data, errors, named_error = [], [], False
                continue
            line = decode(raw, damage)
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "error":
                errors.append(value)
            elif name == "event":
                named_error = value == "error"
            # Comments (":"), "id", "retry" and unknown fields mean nothing to a chat.
    if errors:
        yield SseEvent("\n".join(errors), error=True)
    elif data:
        yield SseEvent("\n".join(data), error=named_error)
