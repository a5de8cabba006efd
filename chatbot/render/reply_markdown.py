"""The Markdown object every piece of model text is rendered with.

Two things differ from a plain ``rich.markdown.Markdown``: links show their URL
instead of hiding it in an OSC 8 hyperlink, and raw HTML is shown as the text it is.
rich silently drops HTML blocks (``<div>…</div>``, ``<details>``, a lone ``<think>``)
and inline tags, so a reply could lose whole paragraphs without a trace.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.markdown import Markdown

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["html_as_text", "reply_markdown"]


@functools.cache
def _full_parser() -> MarkdownIt:
    """The parser rich's Markdown builds for itself, made once."""
    return MarkdownIt().enable("strikethrough").enable("table")


def _paragraph(block: Token) -> list[Token]:
    """An HTML block as a paragraph of its lines, each kept on a line of its own."""
    children: list[Token] = []
    for number, line in enumerate(block.content.rstrip("\n").split("\n")):
        if number:
            children.append(Token("hardbreak", "br", 0))
        children.append(Token("text", "", 0, content=line))
    level = block.level
    return [
        Token("paragraph_open", "p", 1, map=block.map, level=level, block=True),
        Token(
            "inline",
            "",
            0,
            map=block.map,
            level=level + 1,
            content=block.content,
            children=children,
            block=True,
        ),
        Token("paragraph_close", "p", -1, level=level, block=True),
    ]


def html_as_text(tokens: Sequence[Token]) -> list[Token]:
    """``tokens`` with raw HTML turned into text, so rich shows it instead of dropping it."""
    out: list[Token] = []
    for token in tokens:
        if token.type == "html_block":
            out.extend(_paragraph(token))
            continue
        for child in token.children or ():
            if child.type == "html_inline":
                child.type = "text"
        out.append(token)
    return out


class _ReplyMarkdown(Markdown):
    """rich's Markdown with a shared parser, hyperlinks off, and HTML as text.

    rich builds a new MarkdownIt for every Markdown object (~0.26 ms), and a
    streamed reply renders hundreds of blocks. The attributes set here are the
    ones rich's own ``__init__`` sets; the render tests compare this against a
    plain rich render, so a change in rich shows up there.
    """

    def __init__(self, markup: str, *, code_theme: str) -> None:
        self.markup = markup
        parsed = _full_parser().parse(markup)
        # Without a "<" there is no HTML: skip the walk (most blocks).
        self.parsed = html_as_text(parsed) if "<" in markup else parsed
        self.code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = False
        self.inline_code_lexer = None
        self.inline_code_theme = code_theme


def reply_markdown(text: str, *, code_theme: str = "monokai") -> Markdown:
    """Markdown for model text: links show their URL, raw HTML shows as text.

    A hyperlink whose target is invisible is exactly what a hostile reply would
    plant, so every place that renders model output uses this.
    """
    return _ReplyMarkdown(text, code_theme=code_theme)
