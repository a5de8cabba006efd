"""Model Markdown made into HTML that is safe to put in the page.

Three walls, in order. markdown-it runs with raw HTML off, so ``<img onerror=…>``
in a reply is text, shown as typed. Images never load: an image becomes a link
the user may choose to open, since an ``<img>`` fetches its URL the moment it is
inserted and a reply could carry a secret out that way. Then nh3 (the ammonia
sanitiser) keeps only the tags, attributes and URL schemes listed here, whatever
the renderer produced. The page's Content-Security-Policy is the last wall.

Code is highlighted by Pygments into classes (never inline styles, which the
policy forbids); :func:`code_stylesheet` is the matching CSS, light and dark.
"""

from __future__ import annotations

import functools
import html
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import nh3
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict

__all__ = ["code_stylesheet", "markdown_html", "sanitize_html"]

_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del",
        "code", "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody",
        "tr", "th", "td", "span",
    }
)  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "code": {"class"}, "span": {"class"}}
_SCHEMES = frozenset({"http", "https", "mailto"})
#: Pygments' short token classes are letters only; languages are ``language-NAME``.
_CODE_CLASS_PREFIX = "language-"


@functools.cache
def _cleaner() -> nh3.Cleaner:
    import nh3

    return nh3.Cleaner(
        tags=set(_TAGS),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        url_schemes=set(_SCHEMES),
        # Relative URLs would point into this server: a reply has no business there.
        url_relative="deny",
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        attribute_filter=_keep_attribute,
        strip_comments=True,
    )


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Classes only as our renderer writes them: Pygments' tokens, a code block's language."""
    if attribute != "class":
        return value
    words = value.split()
    if tag == "code":
        kept = [w for w in words if w.startswith(_CODE_CLASS_PREFIX) and w[9:].isalnum()]
    else:
        kept = [w for w in words if w.isalnum() and len(w) <= 3]
    return " ".join(kept) or None


def sanitize_html(markup: str) -> str:
    """``markup`` with everything outside the allow-list removed (nh3)."""
    return _cleaner().clean(markup)


def _highlight(code: str, language: str, _attrs: Any) -> str:
    """Pygments spans for a known language; empty (escaped as is) otherwise."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter

    # A fence still streaming has no code yet, and perhaps half its language's name.
    lexer = _lexer(language.split()[0]) if language and code else None
    if lexer is None:
        return ""
    return str(highlight(code, lexer, _formatter(HtmlFormatter)))


def _lexer(name: str) -> Any:
    """The lexer for a fence's language ``name``, or None when Pygments has none.

    Only Pygments' own languages: for a name it does not know, it would search every
    installed package's entry points (milliseconds), and the open tail of a reply
    is rendered ten times a second, with its language perhaps half typed. Building
    a lexer's rules takes tens of milliseconds, so each is built once, by one
    thread, however many replies stream; the names come from replies, so the cache
    holds only Pygments' languages, never what a reply made up.
    """
    alias = _aliases().get(name.lower())
    if alias is None:
        return None
    with _LEXER_LOCK:
        lexer = _LEXERS.get(alias)
        if lexer is None:
            from pygments.lexers import get_lexer_by_name

            lexer = _LEXERS[alias] = get_lexer_by_name(alias)
        return lexer


@functools.cache
def _aliases() -> dict[str, str]:
    """Every alias of Pygments' own lexers, each to its lexer's first alias."""
    from pygments.lexers import get_all_lexers

    names: dict[str, str] = {}
    for _name, aliases, _files, _types in get_all_lexers(plugins=False):
        for alias in aliases:
            names.setdefault(alias, aliases[0])
    return names


_LEXERS: dict[str, Any] = {}
_LEXER_LOCK = threading.Lock()


@functools.cache
def _formatter(kind: type[Any]) -> Any:
    return kind(nowrap=True)


def _image_as_link(
    renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    """An image becomes a link with its description: nothing loads unless clicked."""
    token = tokens[index]
    alt = "".join(child.content for child in token.children or ()) or "image"
    src = str(token.attrGet("src") or "")
    return f'<a href="{html.escape(src)}">{html.escape("[image] " + alt)}</a>'


@functools.cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    parser.enable("strikethrough").enable("table")
    parser.add_render_rule("image", _image_as_link)
    return parser


def markdown_html(text: str) -> str:
    """Safe HTML for a piece of model Markdown (one block or a whole reply)."""
    if not text.strip():
        return ""
    return sanitize_html(_parser().render(text))


@functools.cache
def code_stylesheet() -> str:
    """CSS for the highlighted code: a light theme, and a dark one by preference."""
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default").get_style_defs(".reply pre")
    dark = HtmlFormatter(style="monokai").get_style_defs(".reply pre")
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"
