"""An HTML page's text, not its markup, shaped as Markdown so it chunks like Markdown.

Headings become ``#`` headings, ``<pre>`` a fenced block, tables pipe tables and
list items ``-`` lines; scripts, styles, navigation bars and tables of contents are
left out (a table of contents would otherwise answer every question about the
titles it lists). Only the standard library's parser is used.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from chatbot.knowledge.spaceless import rejoin_wrapped

__all__ = ["html_to_text"]

_SKIPPED_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "head", "nav", "iframe", "object"}
)
#: class or id words of page furniture (DocBook, Sphinx and common site themes).
_SKIPPED_CLASSES = frozenset(
    {"toc", "navheader", "navfooter", "breadcrumb", "breadcrumbs", "sphinxsidebar", "related"}
)
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
     "track", "wbr", "param"}
)  # fmt: skip
_BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote",
     "ul", "ol", "dl", "dt", "dd", "figure", "figcaption", "form", "address", "hr", "br",
     "caption", "body", "html"}
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SPACES = re.compile(r"\s+")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.title = ""
        self._inline: list[str] = []
        #: The list marker the next flushed line starts with.
        self._prefix = ""
        self._stack: list[str] = []
        self._skip_at: int | None = None
        self._in_title = False
        self._heading: int | None = None
        self._pre: list[str] | None = None
        self._lists = 0
        #: Open tables: rows of cells, innermost last.
        self._tables: list[list[list[str]]] = []
        self._saw_h1 = False

    # -- structure ---------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag not in _VOID:
            self._stack.append(tag)
        if self._skip_at is not None:
            return
        if tag in _SKIPPED_TAGS or _is_furniture(attrs):
            if tag not in _VOID:
                self._skip_at = len(self._stack)
            return
        if tag in _HEADINGS:
            self._flush()
            self._heading = _HEADINGS[tag]
            self._saw_h1 = self._saw_h1 or tag == "h1"
        elif tag == "pre":
            self._flush()
            self._pre = []
        elif tag == "table":
            self._flush()
            self._tables.append([])
        elif tag == "tr" and self._tables:
            self._tables[-1].append([])
        elif tag in ("td", "th") and self._tables:
            if not self._tables[-1]:
                self._tables[-1].append([])
            self._tables[-1][-1].append("")
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists += 1
        elif tag == "li":
            self._flush()
            self._prefix = "  " * max(0, self._lists - 1) + "- "
        elif tag in _BLOCKS:
            self._flush()
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._data(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _VOID or tag not in self._stack:
            return
        # Unclosed elements inside this one close with it, as browsers do.
        while self._stack:
            closed = self._stack.pop()
            self._close(closed)
            if closed == tag:
                break

    def _close(self, tag: str) -> None:
        if self._skip_at is not None:
            if len(self._stack) < self._skip_at:
                self._skip_at = None
            return
        if tag in _HEADINGS and self._heading is not None:
            text = _collapse("".join(self._inline))
            self._inline = []
            if text:
                self.blocks.append("#" * self._heading + " " + text)
            self._heading = None
        elif tag == "pre" and self._pre is not None:
            body = "".join(self._pre).strip("\n")
            self._pre = None
            if body.strip():
                fence = "```"
                while fence in body:
                    fence += "`"
                self.blocks.append(f"{fence}\n{body}\n{fence}")
        elif tag == "table" and self._tables:
            rows = self._tables.pop()
            table = _pipe_table(rows)
            if self._tables and self._tables[-1] and self._tables[-1][-1]:
                # A table inside a cell: its text joins that cell.
                self._tables[-1][-1][-1] += " " + _collapse(table.replace("|", " "))
            elif table:
                self.blocks.append(table)
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists = max(0, self._lists - 1)
        elif tag in _BLOCKS or tag == "li":
            self._flush()

    # -- text --------------------------------------------------------------------

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._skip_at is not None:
            return
        if self._pre is not None:
            self._pre.append(data)
            return
        self._data(data)

    def _data(self, data: str) -> None:
        if self._tables and self._tables[-1] and self._tables[-1][-1]:
            self._tables[-1][-1][-1] += data
            return
        self._inline.append(data)

    def _flush(self) -> None:
        if self._heading is not None or self._pre is not None:
            return
        text = _collapse("".join(self._inline))
        self._inline = []
        if text:
            self.blocks.append(self._prefix + text)
            self._prefix = ""

    def close(self) -> None:
        super().close()
        while self._stack:
            self._close(self._stack.pop())
        self._flush()


def _is_furniture(attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name == "role" and value == "navigation":
            return True
        if name in ("class", "id") and value and not _SKIPPED_CLASSES.isdisjoint(value.split()):
            return True
    return False


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", rejoin_wrapped(text)).strip()


def _pipe_table(rows: list[list[str]]) -> str:
    cells = [[_collapse(cell).replace("|", "\\|") for cell in row] for row in rows if row]
    cells = [row for row in cells if any(row)]
    if not cells:
        return ""
    width = max(len(row) for row in cells)
    lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in cells]
    lines.insert(1, "|" + "---|" * width)
    return "\n".join(lines)


def html_to_text(html: str) -> str:
    """The readable text of ``html`` as Markdown-shaped blocks separated by blank lines."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    blocks = parser.blocks
    title = _collapse(parser.title)
    if title and not parser._saw_h1:
        blocks.insert(0, f"# {title}")
    return "\n\n".join(blocks) + ("\n" if blocks else "")
