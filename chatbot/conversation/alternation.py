"""Requests whose user and assistant turns alternate, whatever happened before.

A question whose reply failed or came back empty stays in the conversation (so
``/retry`` can ask it again), but an empty reply is never sent back, so the next
request would carry two user messages in a row. Strict chat templates (vLLM and
Mistral's, Hugging Face's ``raise_exception``) refuse that for every later turn.
:func:`alternating` merges such neighbours into one message, losing nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["alternating"]

#: Roles whose neighbours of the same role are merged; tool results stand alone.
_MERGED = ("user", "assistant")


def alternating(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with each run of same-role user (or assistant) messages made one.

    Assistant messages with tool calls are never merged: each call's result must
    follow its own message.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        previous = out[-1] if out else None
        role = message.get("role")
        if (
            previous is not None
            and role in _MERGED
            and previous.get("role") == role
            and not previous.get("tool_calls")
            and not message.get("tool_calls")
        ):
            previous["content"] = _joined(previous.get("content"), message.get("content"))
            continue
        out.append(dict(message))
    return out


def _joined(first: object, second: object) -> object:
    """Two contents as one: strings joined by a blank line, parts lists concatenated."""
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}\n\n{second}" if first and second else first or second
    return [*_parts(first), *_parts(second)]


def _parts(content: object) -> list[Any]:
    if isinstance(content, list):
        return list(content)
    if isinstance(content, str) and content:
        return [{"type": "text", "text": content}]
    return []
