"""Showing a streamed reply: Markdown on a terminal, raw text down a pipe.

Importing this package stays cheap: rich is only loaded when a Markdown renderer is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from chatbot.render.plain import PlainRenderer
from chatbot.render.reply_renderer import ReplyRenderer
from chatbot.render.sanitize import StreamSanitizer, sanitize
from chatbot.settings.limits import ThinkMode

if TYPE_CHECKING:
    from rich.console import Console

    from chatbot.render.markdown_stream import MarkdownStreamRenderer

__all__ = [
    "MarkdownStreamRenderer",
    "PlainRenderer",
    "ReplyRenderer",
    "StreamSanitizer",
    "make_renderer",
    "sanitize",
]


def make_renderer(
    *,
    console: Console,
    markdown: bool,
    file: TextIO | None = None,
    code_theme: str = "monokai",
    think: ThinkMode | None = None,
    thinking_console: Console | None = None,
) -> ReplyRenderer:
    """Markdown rendered on ``console``, or raw text to ``file`` (default: the console's).

    With ``think``, thinking
    is shown on ``thinking_console`` (default: ``console``) before the answer.
    """
    answer: ReplyRenderer
    if markdown:
        from chatbot.render.markdown_stream import MarkdownStreamRenderer

        answer = MarkdownStreamRenderer(console=console, code_theme=code_theme)
    else:
        answer = PlainRenderer(file=file if file is not None else console.file)
    if think is None:
        return answer
    from chatbot.render.thinking_region import ThinkingDisplay, ThinkingReplyRenderer

    display = ThinkingDisplay(console=thinking_console or console, mode=think)
    return ThinkingReplyRenderer(answer=answer, display=display)


def __getattr__(name: str) -> object:
    # Lazy so that ``import chatbot.render`` does not pay for rich.
    if name == "MarkdownStreamRenderer":
        from chatbot.render.markdown_stream import MarkdownStreamRenderer

        return MarkdownStreamRenderer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
