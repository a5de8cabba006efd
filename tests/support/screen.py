"""A tiny terminal emulator: what a person would see after rich's live regions are done.

Only what rich writes is understood: text, CR, LF, cursor up (``ESC [ n A``), erase
line (``ESC [ n K``) and erase below (``ESC [ J``); colours and cursor visibility are
ignored. The screen has no bottom, so scrollback is kept: ``lines`` is everything
still on display, top to bottom. Lines longer than ``width`` wrap, as a terminal does.
"""

from __future__ import annotations

import re

__all__ = ["Screen"]

_SEQUENCE = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|([\r\n])")


class Screen:
    def __init__(self, *, width: int) -> None:
        self.width = width
        self._rows: list[list[str]] = [[]]
        self._row = 0
        self._col = 0

    def feed(self, text: str) -> None:
        position = 0
        for match in _SEQUENCE.finditer(text):
            self._write(text[position : match.start()])
            position = match.end()
            params, command, control = match.group(1), match.group(2), match.group(3)
            if control == "\r":
                self._col = 0
            elif control == "\n":
                self._down()
                self._col = 0
            elif command == "A":
                self._row = max(0, self._row - int(params or 1))
            elif command == "K":
                row = self._rows[self._row]
                if params in ("", "0"):
                    del row[self._col :]
                else:
                    row.clear()
            elif command == "J":
                del self._rows[self._row][self._col :]
                del self._rows[self._row + 1 :]
        self._write(text[position:])

    @property
    def lines(self) -> list[str]:
        """Every row still showing, trailing blanks trimmed, trailing empty rows dropped."""
        rows = ["".join(row).rstrip() for row in self._rows]
        while rows and not rows[-1]:
            rows.pop()
        return rows

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def _down(self) -> None:
        self._row += 1
        while len(self._rows) <= self._row:
            self._rows.append([])

    def _write(self, text: str) -> None:
        for char in text:
            if self._col >= self.width:
                self._down()
                self._col = 0
            row = self._rows[self._row]
            while len(row) < self._col:
                row.append(" ")
            if self._col < len(row):
                row[self._col] = char
            else:
                row.append(char)
            self._col += 1
