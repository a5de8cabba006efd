"""A reply's thinking in the store: kept in the message's JSON ``params``, beside the answer.

The answer stays the ``content`` column (what search, export and the next request
read); the thinking never becomes part of it. No schema change is needed, and an
export carries the thinking in ``params``, so an import brings it back.
"""

from __future__ import annotations

from collections.abc import Mapping

from chatbot.conversation.messages import Message

__all__ = ["THINKING_KEY", "restore_thinking", "thinking_params"]

_TEXT = "thinking"
_TOKENS = "thinking_tokens"
#: Appears in the params JSON of every message that kept its thinking.
THINKING_KEY = f'"{_TEXT}"'


def thinking_params(message: Message) -> dict[str, object]:
    """The ``params`` entries that keep ``message``'s thinking; empty when it has none."""
    if not message.thinking:
        return {}
    entries: dict[str, object] = {_TEXT: message.thinking}
    if message.thinking_tokens is not None:
        entries[_TOKENS] = message.thinking_tokens
    return entries


def restore_thinking(message: Message, params: Mapping[str, object]) -> None:
    """Put the thinking stored in ``params`` back on ``message`` (a wrong type is ignored)."""
    text = params.get(_TEXT)
    if isinstance(text, str):
        message.thinking = text
    tokens = params.get(_TOKENS)
    if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0:
        message.thinking_tokens = tokens
