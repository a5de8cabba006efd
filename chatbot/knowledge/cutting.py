"""Cutting one block too big for a passage into pieces that each stand alone.

Code and tables are cut between lines, each piece repeating the block's head (a
fence, a table's header rows) and its closing fence, so every piece is still a code
block or a table; a line too long by itself is cut between sentences, then slices.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["cut_block"]

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def cut_block(
    lines: list[str], *, start: int, end: int, head: int, tail: str | None, budget: int
) -> Iterator[tuple[int, int, str]]:
    """(first line, past the last line, text) of each piece of ``lines[start:end]``.

    The first ``head`` lines are repeated on every piece, and ``tail`` (a closing
    fence) ends every piece; each piece's text is about ``budget`` bytes at most.
    """
    top = lines[start : start + head]
    body_start = start + head
    body_end = end
    bottom: list[str] = []
    if tail is not None:
        if body_end > body_start and lines[body_end - 1] == tail:
            body_end -= 1
        bottom = [tail]
    fixed = sum(len(line.encode("utf-8")) + 1 for line in (*top, *bottom))
    room = max(budget - fixed, budget // 4)
    piece: list[str] = []
    size = 0
    first = body_start
    for number in range(body_start, body_end):
        for part in _line_parts(lines[number], room):
            part_size = len(part.encode("utf-8")) + 1
            if piece and size + part_size > room:
                yield first, number + 1, "\n".join([*top, *piece, *bottom])
                piece, size, first = [], 0, number
            piece.append(part)
            size += part_size
    if piece:
        yield first, end, "\n".join([*top, *piece, *bottom])


def _line_parts(line: str, room: int) -> Iterator[str]:
    """A line, or its sentences (then slices) when it alone is bigger than ``room``."""
    if len(line.encode("utf-8")) + 1 <= room:
        yield line
        return
    part = ""
    for sentence in _SENTENCE_END.split(line):
        if part and len((part + " " + sentence).encode("utf-8")) > room:
            yield part
            part = ""
        part = f"{part} {sentence}" if part else sentence
        while len(part.encode("utf-8")) > room:
            # One "sentence" bigger than the room (no punctuation): cut by characters.
            cut = max(1, room // 3)
            yield part[:cut]
            part = part[cut:]
    if part:
        yield part
