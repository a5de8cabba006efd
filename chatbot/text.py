"""Make text safe to send, store and show: user input, and what servers stream back."""

from __future__ import annotations

import re
import shutil
from typing import TextIO

__all__ = ["clean_text", "fold_line", "on_terminal"]

# Lone surrogates (from a broken paste or surrogateescape-decoded bytes) cannot
# be encoded as UTF-8 JSON; NUL bytes break some servers' C string handling.
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Replace lone surrogates with U+FFFD and drop NUL; everything else is kept.

    Used on what the user sends and on what a server streams back (a JSON
    ``\\ud83d`` escape decodes to a lone surrogate that no file or terminal takes).
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATES.sub("\ufffd", text)


def fold_line(text: str, width: int, *, indent: int = 2) -> str:
    """One long line folded at word boundaries to ``width`` terminal cells.

    A terminal folds a long line wherever the width ends, mid-word; this folds it
    between words (or between Japanese characters, never before 、 or 。),
    continuation lines indented by ``indent``. A word longer than the line (a URL)
    is kept whole. Measured in cells, so Japanese (two a character) folds right.
    """
    from chatbot.cells import cell_width, wrap

    if width <= indent + 10 or cell_width(text) <= width:
        return text
    return "\n".join(wrap(text, width, indent=indent, keep_long_words=True)) or text


def on_terminal(line: str, stream: TextIO, *, indent: int = 9) -> str:
    """``line`` folded between words when ``stream`` is a terminal; a pipe or a log
    file keeps it one line (``indent`` fits the ``chatbot: `` prefix)."""
    try:
        if not stream.isatty():
            return line
    except (AttributeError, ValueError):
        return line
    return fold_line(line, shutil.get_terminal_size().columns, indent=indent)
