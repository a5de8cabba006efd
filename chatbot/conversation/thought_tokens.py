"""The conversation's side of thinking: where it is shown, and what it cost.

The parser that separates thinking from the answer is :mod:`chatbot.api.reasoning`;
the display is :mod:`chatbot.render.thinking_region`.
"""

from __future__ import annotations

from collections.abc import Callable

from chatbot.conversation.messages import Message
from chatbot.tokens import TokenCounter

__all__ = ["think_sink", "thinking_tokens"]


def _ignore(_text: str) -> None:
    return None


def think_sink(renderer: object) -> Callable[[str], None]:
    """The renderer's ``think`` method, or a no-op for a renderer that shows no thinking.

    Optional, so renderers that only know ``feed`` and ``finish`` keep working.
    """
    think = getattr(renderer, "think", None)
    return think if callable(think) else _ignore


def thinking_tokens(reply: Message, counter: TokenCounter) -> tuple[int, bool]:
    """(tokens, exact) of the reply's thinking: the server's count, else our estimate."""
    if reply.thinking_tokens is not None:
        return reply.thinking_tokens, True
    return (counter.text_tokens(reply.thinking) if reply.thinking else 0), False
