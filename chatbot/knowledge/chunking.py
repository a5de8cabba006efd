"""A document cut into passages that each make sense alone, under their headings.

A passage never starts in the middle of a section: every heading (Markdown ``#`` or
underlined, reStructuredText over- and underlines) begins a new one, and the path
of headings above it names it in the sources. Code blocks (fenced, indented, reST
literal blocks and directives) and tables (pipe, grid and simple) are kept whole;
one too big for a passage is cut between lines, each piece keeping its fence or
its table's header, so a piece is still a code block or a table. Sizes are in
UTF-8 bytes: cheap to measure, and close to tokens for any script (an English
word ~4 bytes a token, a kanji 3 bytes about one).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from chatbot.knowledge.cutting import cut_block
from chatbot.knowledge.documents import DocumentKind, Extracted

__all__ = ["LIMIT_BYTES", "TARGET_BYTES", "Chunk", "chunk_document"]

#: A passage grows to about this size before the next block starts a new one.
TARGET_BYTES = 1600
#: A code block or table up to this size stays whole in one passage.
LIMIT_BYTES = 4000
#: Heading paths are joined with this, in the sources and the index.
HEADING_SEPARATOR = " › "

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
#: A reST/setext adornment: one punctuation character repeated (3 or more).
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}[ \t]*$")
_PIPE_SEPARATOR = re.compile(r"^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_GRID_BORDER = re.compile(r"^[ \t]*\+[-=+]+\+[ \t]*$")
_SIMPLE_BORDER = re.compile(r"^[ \t]*=+(?:[ \t]+=+)+[ \t]*$")
_DIRECTIVE = re.compile(r"^([ \t]*)\.\.[ \t]+([A-Za-z0-9_-]+)::")
_CODE_DIRECTIVES = frozenset({"code-block", "code", "sourcecode", "doctest", "highlight"})


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage of a document."""

    #: Order within the document, from 0.
    position: int
    #: The headings above it, outermost first, joined by an angle quote; "" before any.
    heading: str
    #: Its first and last line (1-based, inclusive) in the extracted text.
    first_line: int
    last_line: int
    text: str
    #: For a PDF: its first and last page; (0, 0) otherwise.
    pages: tuple[int, int] = (0, 0)


@dataclass(slots=True)
class _Block:
    kind: str  # "heading", "code", "table", "text"
    start: int  # first line, 0-based
    end: int  # past the last line
    level: int = 0
    title: str = ""
    #: Lines at its top repeated on every piece when it is cut (a fence, a table header).
    head: int = 0
    #: A closing line repeated on every piece (a fence), or None.
    tail: str | None = None


def chunk_document(
    document: Extracted, *, target: int = TARGET_BYTES, limit: int = LIMIT_BYTES
) -> list[Chunk]:
    """``document`` cut into passages; headings are never passages of their own."""
    lines = document.text.split("\n")
    blocks = _blocks(lines, kind=document.kind)
    packer = _Packer(lines, target=target, limit=limit)
    for block in blocks:
        packer.add(block)
    packer.flush()
    chunks = packer.chunks
    if document.page_starts:
        chunks = _with_pages(chunks, document)
    return chunks


# -- blocks -----------------------------------------------------------------------


def _blocks(lines: list[str], *, kind: DocumentKind) -> list[_Block]:
    """The document's blocks in order: headings, code, tables and paragraphs."""
    # HTML arrives as Markdown (see html_text).
    markdown = kind in (DocumentKind.MARKDOWN, DocumentKind.HTML)
    # "#" starts a heading only in Markdown: elsewhere it is a comment or a root prompt
    # ("# apt install ..."). A PDF's lines are laid-out text: its outline names sections.
    atx = _ATX if markdown else None
    adorned = kind is not DocumentKind.PDF
    styles: dict[tuple[str, bool], int] = {}
    blocks: list[_Block] = []
    count = len(lines)
    index = 0
    literal = False
    while index < count:
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if literal and line[:1] in (" ", "\t"):
            # After "::", an indented block is a reST literal block, however indented.
            block = _Block("code", index, _indented_end(lines, index, base=0))
        else:
            block = (
                _fenced(lines, index)
                or (_atx(atx.match(line), index) if atx is not None else None)
                or (_adorned(lines, index, styles, markdown=markdown) if adorned else None)
                or _table(lines, index)
                or _directive(lines, index)
                or _indented(lines, index)
                or _paragraph(lines, index, atx=atx)
            )
        literal = block.kind == "text" and lines[block.end - 1].rstrip().endswith("::")
        blocks.append(block)
        index = block.end
    return blocks


def _fenced(lines: list[str], index: int) -> _Block | None:
    opened = _FENCE.match(lines[index])
    if opened is None:
        return None
    fence = opened.group(1)
    closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
    for end in range(index + 1, len(lines)):
        if closing.match(lines[end]):
            return _Block("code", index, end + 1, head=1, tail=lines[end])
    # Never closed: the rest of the document is code, as Markdown has it.
    return _Block("code", index, len(lines), head=1, tail=fence[0] * len(fence))


def _atx(match: re.Match[str] | None, index: int) -> _Block | None:
    if match is None or not match.group(2).strip():
        return None
    return _Block("heading", index, index + 1, level=len(match.group(1)), title=match.group(2))


def _adorned(
    lines: list[str], index: int, styles: dict[tuple[str, bool], int], *, markdown: bool
) -> _Block | None:
    """An underlined (or over- and underlined) title, its level set by its style."""
    line = lines[index]
    over = _ADORNMENT.match(line)
    if over is not None and index + 2 < len(lines):
        title, under = lines[index + 1].strip(), lines[index + 2].strip()
        if title and not _ADORNMENT.match(title) and under == line.strip():
            level = _level(styles, (over.group(1), True), markdown=markdown)
            return _Block("heading", index, index + 3, level=level, title=title)
    if index + 1 >= len(lines) or line.startswith((" ", "\t")):
        return None
    under_match = _ADORNMENT.match(lines[index + 1])
    if under_match is None or _ADORNMENT.match(line) or len(line.strip()) > 200:
        return None
    level = _level(styles, (under_match.group(1), False), markdown=markdown)
    return _Block("heading", index, index + 2, level=level, title=line.strip())


def _level(styles: dict[tuple[str, bool], int], style: tuple[str, bool], *, markdown: bool) -> int:
    if markdown and style[0] in "=-" and not style[1]:
        return 1 if style[0] == "=" else 2
    # reStructuredText: levels go by the order in which the styles first appear.
    return styles.setdefault(style, len(styles) + 1)


def _table(lines: list[str], index: int) -> _Block | None:
    line = lines[index]
    count = len(lines)
    if "|" in line and index + 1 < count and _PIPE_SEPARATOR.match(lines[index + 1]):
        end = index + 2
        while end < count and "|" in lines[end] and lines[end].strip():
            end += 1
        return _Block("table", index, end, head=2)
    if _GRID_BORDER.match(line):
        end = index + 1
        while end < count and lines[end].strip().startswith(("+", "|")):
            end += 1
        head = next(
            (
                i - index + 1
                for i in range(index + 1, end)
                if "=" in lines[i] and _GRID_BORDER.match(lines[i])
            ),
            1,
        )
        return _Block("table", index, end, head=head)
    if _SIMPLE_BORDER.match(line):
        borders = [index]
        end = index + 1
        while end < count:
            if _SIMPLE_BORDER.match(lines[end]):
                borders.append(end)
                if len(borders) >= 3 or end + 1 >= count or not lines[end + 1].strip():
                    end += 1
                    break
            end += 1
        head = borders[1] - index + 1 if len(borders) >= 3 else 0
        return _Block("table", index, end, head=head)
    return None


def _directive(lines: list[str], index: int) -> _Block | None:
    """A reST directive and its indented body (``.. code-block::`` is code)."""
    match = _DIRECTIVE.match(lines[index])
    if match is None:
        return None
    end = _indented_end(lines, index + 1, base=len(match.group(1).expandtabs()))
    kind = "code" if match.group(2).lower() in _CODE_DIRECTIVES else "text"
    return _Block(kind, index, end, head=1 if kind == "code" else 0)


def _indented(lines: list[str], index: int) -> _Block | None:
    """An indented block: Markdown's indented code, a reST literal block or quote."""
    line = lines[index].expandtabs()
    if not line.startswith("    "):
        return None
    return _Block("code", index, _indented_end(lines, index, base=0))


def _indented_end(lines: list[str], index: int, *, base: int) -> int:
    """Past the last line indented deeper than ``base`` (blank lines may come between)."""
    end = last = index
    while end < len(lines):
        text = lines[end].expandtabs()
        if text.strip():
            if len(text) - len(text.lstrip()) <= base:
                break
            last = end + 1
        end += 1
    return max(last, index)


def _paragraph(lines: list[str], index: int, *, atx: re.Pattern[str] | None) -> _Block:
    """Lines up to a blank line, or up to a fence or heading that interrupts them."""
    end = index + 1
    while end < len(lines):
        line = lines[end]
        if not line.strip() or _FENCE.match(line) or (atx is not None and atx.match(line)):
            break
        end += 1
    return _Block("text", index, end)


# -- packing ----------------------------------------------------------------------


class _Packer:
    """Gathers blocks into passages of about ``target`` bytes, section by section."""

    def __init__(self, lines: list[str], *, target: int, limit: int) -> None:
        self.lines = lines
        self.target = target
        self.limit = limit
        self.chunks: list[Chunk] = []
        self._path: list[tuple[int, str]] = []
        #: Line ranges of the passage being gathered, and its size.
        self._start: int | None = None
        self._end = 0
        self._size = 0
        #: The heading line(s) that open the current section, until a passage takes them.
        self._heading_start: int | None = None

    def add(self, block: _Block) -> None:
        if block.kind == "heading":
            self.flush()
            while self._path and self._path[-1][0] >= block.level:
                self._path.pop()
            self._path.append((block.level, _plain_title(block.title)))
            # A heading followed straight by another adds only to the path.
            self._heading_start = block.start
            return
        size = _size(self.lines, block.start, block.end)
        too_big = size > (self.limit if block.kind in ("code", "table") else self.target)
        if too_big:
            self.flush()
            pieces = cut_block(
                self.lines,
                start=block.start,
                end=block.end,
                head=block.head,
                tail=block.tail,
                budget=self.limit if block.kind in ("code", "table") else self.target,
            )
            for start, end, text in pieces:
                self._emit(start, end, text)
            return
        if self._start is not None and self._size + size > self.target:
            self.flush()
        if self._start is None:
            self._start = block.start if self._heading_start is None else self._heading_start
            self._heading_start = None
            self._size = 0
        self._end = block.end
        self._size += size

    def flush(self) -> None:
        if self._start is None:
            return
        text = "\n".join(self.lines[self._start : self._end]).strip("\n")
        self._emit(self._start, self._end, text)
        self._start = None
        self._size = 0

    def _emit(self, start: int, end: int, text: str) -> None:
        if self._heading_start is not None and start != self._heading_start:
            # The first passage of a section that had to be cut still names its heading.
            heading = "\n".join(self.lines[self._heading_start : start]).strip("\n")
            text = f"{heading}\n\n{text}" if heading else text
            start = self._heading_start
            self._heading_start = None
        if not text.strip():
            return
        self.chunks.append(
            Chunk(
                position=len(self.chunks),
                heading=HEADING_SEPARATOR.join(title for _, title in self._path),
                first_line=start + 1,
                last_line=max(start + 1, end),
                text=text,
            )
        )


def _size(lines: list[str], start: int, end: int) -> int:
    return sum(len(line.encode("utf-8")) + 1 for line in lines[start:end])


_MARKUP = re.compile(r"[*_`]+|:[a-z]+:`|<[^>]*>`_?")


def _plain_title(title: str) -> str:
    """A heading as people read it: emphasis and reST roles taken out."""
    return " ".join(_MARKUP.sub("", title).split()) or title.strip()


def _with_pages(chunks: list[Chunk], document: Extracted) -> list[Chunk]:
    """A PDF's passages with their pages, and the outline's section for their first page."""
    starts = document.page_starts
    outline_pages = [page for page, _ in document.outline]
    placed: list[Chunk] = []
    for chunk in chunks:
        first = bisect.bisect_right(starts, chunk.first_line - 1)
        last = bisect.bisect_right(starts, chunk.last_line - 1)
        heading = chunk.heading
        at = bisect.bisect_right(outline_pages, first)
        if not heading and at:
            heading = document.outline[at - 1][1]
        placed.append(
            Chunk(
                position=chunk.position,
                heading=heading,
                first_line=chunk.first_line,
                last_line=chunk.last_line,
                text=chunk.text,
                pages=(max(1, first), max(1, last)),
            )
        )
    return placed
