"""Where finished top-level Markdown blocks end in a growing text.

The stream renderer prints each finished block once and keeps only the unfinished
tail live; this module finds the cuts. Lines are scanned once each for cheap hints
(a blank line then a line at the margin, a closing fence, a heading); a hint is only
trusted once a parse of the tail confirms a top-level block boundary there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt

if TYPE_CHECKING:
    from markdown_it.token import Token

__all__ = ["BlockSplitter"]

# A fence opener: backtick fences may not have a backtick in their info string.
_FENCE_OPEN = re.compile(r"[ \t]*(?P<fence>`{3,}(?=[^`]*$)|~{3,})")
_FENCE_CLOSE = re.compile(r"[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*$")
_LIST_MARKER = re.compile(r"(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)")
# Lines that can end a one-line block (ATX heading, setext underline, thematic break).
_MAYBE_BLOCK_END = re.compile(r" {0,3}(?:#{1,6}(?:[ \t]|$)|=+[ \t]*$|(?:[-*_][ \t]*){3,}$)")
# Top-level tokens that are finished on their last line, whatever follows.
_SELF_CONTAINED = frozenset({"heading_open", "hr", "fence"})


@functools.cache
def _block_parser() -> MarkdownIt:
    """The block grammar rich uses (CommonMark plus tables and strikethrough)."""
    return MarkdownIt().enable("strikethrough").enable("table").disable("inline")


def _closes(line: str, fence: str) -> bool:
    match = _FENCE_CLOSE.match(line)
    return match is not None and match["fence"][0] == fence[0] and len(match["fence"]) >= len(fence)


def _top_level(tokens: Sequence[Token]) -> Iterator[Token]:
    """Top-level block tokens that open or stand alone, from the last backwards."""
    for token in reversed(tokens):
        if token.level == 0 and token.nesting >= 0 and token.map is not None:
            yield token


class BlockSplitter:
    """Finds where finished top-level Markdown blocks end in a growing text.

    Lines are scanned once each for cheap hints (a blank line then a line at the
    margin, a closing fence, a heading); a hint is only trusted once a parse of the
    tail confirms a top-level boundary there.
    """

    def __init__(self, *, on_parse: Callable[[int], None]) -> None:
        self.tail = ""
        self._on_parse = on_parse
        self._scanned = 0  # start of the first line not yet scanned
        self._searched = 0  # where the search for the next newline resumes
        self._line = 0  # index in the tail of the line at ``_scanned``
        self._fence: str | None = None
        self._previous_blank = False
        self._in_list = False
        self._peeked = False
        self._cut: int | None = None

    def append(self, text: str) -> None:
        self.tail += text

    def next_cut(self) -> int | None:
        """Offset in ``tail`` up to which it holds finished blocks, if any."""
        while self._cut is None:
            end = self.tail.find("\n", max(self._scanned, self._searched))
            if end < 0:
                self._searched = len(self.tail)
                return self._peek_partial_line()
            start, self._scanned = self._scanned, end + 1
            self._cut = self._scan_line(self.tail[start:end], start=start, end=end + 1)
            self._line += 1
            self._peeked = False
        return self._cut

    def drop(self, cut: int) -> None:
        """Forget the first ``cut`` characters, printed as finished blocks."""
        self.tail = self.tail[cut:]
        self._scanned -= cut
        self._searched = max(0, self._searched - cut)
        self._line = self.tail.count("\n", 0, self._scanned)
        self._cut = None

    def _peek_partial_line(self) -> int | None:
        """Cut before a line still arriving when its first character settles it.

        After a blank line, a line at the margin starts a new block unless it continues
        a list, which only a marker can do. Cutting this early keeps the finished block
        out of the live tail while the new line streams in.
        """
        if self._peeked or self._fence is not None or not self._previous_blank:
            return None
        first = self.tail[self._scanned : self._scanned + 1]
        if (
            self._line == 0
            or not first
            or first in " \t"
            or (self._in_list and first in "-+*0123456789")
        ):
            return None
        self._peeked = True
        if self._starts_block(len(self.tail)):
            self._cut = self._scanned
        return self._cut

    def _scan_line(self, line: str, *, start: int, end: int) -> int | None:
        blank = not line.strip()
        previous_blank, self._previous_blank = self._previous_blank, blank
        if self._fence is not None:
            if _closes(line, self._fence):
                self._fence = None
                if self._ends_block(end, line):
                    return end
            return None
        at_margin = not blank and line[0] not in " \t"
        is_marker = at_margin and _LIST_MARKER.match(line) is not None
        cut: int | None = None
        if _MAYBE_BLOCK_END.match(line) and self._ends_block(end, line):
            cut = end
        elif (
            at_margin
            and previous_blank
            and self._line > 0
            and not (is_marker and self._in_list)
            and self._starts_block(end)
        ):
            cut = start
        opener = _FENCE_OPEN.match(line)
        if opener is not None:
            self._fence = opener["fence"]
        if is_marker:
            self._in_list = True
        elif at_margin and (previous_blank or opener is not None or cut == end):
            self._in_list = False
        return cut

    def _parse(self, end: int) -> list[Token]:
        self._on_parse(end)
        return _block_parser().parse(self.tail[:end])

    def _starts_block(self, end: int) -> bool:
        """Whether a top-level block starts on the line just scanned."""
        return any(
            token.map is not None and token.map[0] == self._line
            for token in _top_level(self._parse(end))
        )

    def _ends_block(self, end: int, line: str) -> bool:
        """Whether a block that nothing can extend ends on the line just scanned."""
        last = next(_top_level(self._parse(end)), None)
        if last is None or last.map is None or last.map[1] != self._line + 1:
            return False
        if last.type == "fence":
            # An unclosed fence also runs to the end: make sure this line closes it.
            return last.map[0] < self._line and _closes(line, last.markup)
        return last.type in _SELF_CONTAINED
