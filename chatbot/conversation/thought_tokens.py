"""What a reply's thinking cost, in tokens: the server's count, else our estimate.

The parser that separates thinking from the answer is :mod:`chatbot.api.reasoning`;
the display is :mod:`chatbot.render.thinking_region`.
"""

from __future__ import annotations

from chatbot.conversation.messages import Message
from chatbot.conversation.token_counter import TokenCounter

__all__ = ["thinking_tokens"]


def thinking_tokens(reply: Message, counter: TokenCounter) -> tuple[int, bool]:
    """(tokens, exact) of the reply's thinking: the server's count, else our estimate."""
    if reply.thinking_tokens is not None:
        return reply.thinking_tokens, True
    return (counter.text_tokens(reply.thinking) if reply.thinking else 0), False
