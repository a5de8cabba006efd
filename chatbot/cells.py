"""Terminal cells: how wide text is on screen, and fitting it to a width.

East Asian wide characters (日本語, full-width punctuation) and most emoji take two
cells; combining marks and zero-width joiners take none. Everything that lines text
up or cuts it to fit (the toolbar, listings, titles, tool lines) measures here, in
cells, never in characters, and cuts only between whole characters (graphemes), so a
wide character is never split in half. The measure is rich's, the same one that lays
out the replies and tables rich draws, so our columns and its agree.
"""

from __future__ import annotations

__all__ = ["ELLIPSIS", "cell_width", "cut", "fit", "pad", "wrap"]

ELLIPSIS = "…"
#: Characters a Japanese line never starts with (kinsoku): closing brackets and
#: punctuation. One that would start a line takes the character before it along.
_NO_LINE_START = frozenset(
    "、。,.，．)）]」』】〕〉》〙〗〟’”"  # closing
    "ゝゞーァィゥェォッャュョヮヵヶぁぃぅぇぉっゃゅょゎ々"  # small kana, marks
    "!?！？:;：；・…‥"  # punctuation
)
#: Characters a line never ends with: opening brackets go down with what they open.
_NO_LINE_END = frozenset("(（[「『【〔〈《〘〖〝‘“")


def cell_width(text: str) -> int:
    """How many terminal cells ``text`` takes on one line."""
    from rich.cells import cell_len

    return cell_len(text)


def cut(text: str, width: int, *, ellipsis: str = ELLIPSIS) -> str:
    """``text`` in at most ``width`` cells: whole as it is, or cut and ended with ``ellipsis``.

    The cut falls between characters; a wide character that would straddle the
    edge is left out (the result may then be a cell short of ``width``).
    """
    if width <= 0:
        return ""
    if cell_width(text) <= width:
        return text
    room = width - cell_width(ellipsis)
    if room <= 0:
        return _head(ellipsis, width)
    return _head(text, room).rstrip() + ellipsis


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` cells (on the left with ``right``); never cut."""
    spaces = " " * max(0, width - cell_width(text))
    return spaces + text if right else text + spaces


def fit(text: str, width: int, *, right: bool = False) -> str:
    """Exactly ``width`` cells: cut with an ellipsis when too wide, padded when short."""
    return pad(cut(text, width), width, right=right)


def _head(text: str, width: int) -> str:
    """The longest start of ``text`` that fits ``width`` cells, ending on a whole grapheme."""
    if width <= 0:
        return ""
    pieces = _chop(text, width)
    head = pieces[0] if pieces else ""
    return head if cell_width(head) <= width else ""


def wrap(text: str, width: int, *, indent: int = 0, keep_long_words: bool = False) -> list[str]:
    """``text`` broken into lines of at most ``width`` cells.

    Latin words break at spaces; wide (CJK) text may break between any two
    characters, but never before closing punctuation such as 、 or 。, nor after
    an opening bracket. A word longer than a whole line is cut between characters,
    or, with ``keep_long_words`` (a URL, a path), kept whole on a line of its own.
    Lines after the first start with ``indent`` spaces, counted in the width.
    """
    width = max(width, indent + 2, 2)
    lines: list[list[str]] = [[]]
    used = 0

    def limit() -> int:
        return width if len(lines) == 1 else width - indent

    for token, size in _tokens(" ".join(text.split())):
        line = lines[-1]
        if token == " ":
            if line and used + 1 <= limit():
                line.append(token)
                used += 1
            continue
        if line and used + size > limit():
            while line and line[-1] == " ":
                line.pop()
            carried: list[str] = []
            if size <= width - indent - 2:
                if token[0] in _NO_LINE_START and line and cell_width(line[-1]) == 2:
                    carried.append(line.pop())
                if line and line[-1] in _NO_LINE_END:
                    carried.insert(0, line.pop())
            if not line:
                lines.pop()
            lines.append(carried)
            line = lines[-1]
            used = sum(cell_width(piece) for piece in carried)
        if size > limit() - used and keep_long_words:
            line.append(token)
            used += size
            continue
        if size > limit() - used:
            # A word wider than the line: cut between characters.
            rest = token
            while rest:
                head = _head(rest, limit() - used)
                if not head:
                    lines.append([])
                    used = 0
                    continue
                lines[-1].append(head)
                used += cell_width(head)
                rest = rest[len(head) :]
            continue
        line.append(token)
        used += size
    shown = ["".join(line).rstrip() for line in lines if line] or [""]
    return [shown[0], *(" " * indent + line for line in shown[1:])]


def _tokens(text: str) -> list[tuple[str, int]]:
    """Words, single spaces, and single wide graphemes (each a place a line may break)."""
    from rich.cells import split_graphemes

    spans, _ = split_graphemes(text)
    tokens: list[tuple[str, int]] = []
    word, word_size = "", 0
    for start, end, size in spans:
        grapheme = text[start:end]
        if grapheme == " " or size == 2:
            if word:
                tokens.append((word, word_size))
                word, word_size = "", 0
            tokens.append((grapheme, size))
        else:
            word += grapheme
            word_size += size
    if word:
        tokens.append((word, word_size))
    return tokens


def _chop(text: str, width: int) -> list[str]:
    from rich.cells import chop_cells

    return chop_cells(text, width)
