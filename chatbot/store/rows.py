"""How the store's rows become records: the conversation header and its messages.

Shared by the listing, the search and the loader, so a column added to one is
added to all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from chatbot.conversation.messages import Message, ReplyStatus, Role, restore_tool_fields
from chatbot.store.files import damaged
from chatbot.store.records import ConversationInfo, MessageMeta
from chatbot.store.thinking_params import THINKING_KEY, restore_thinking

__all__ = ["INFO_COLUMNS", "MESSAGE_COLUMNS", "LazyMeta", "info_from_row", "message_from_row"]

#: The columns of :class:`ConversationInfo`, for ``FROM conversations c``.
INFO_COLUMNS = """c.id, c.title, c.persona, c.model, c.created_at, c.updated_at,
    (SELECT count(*) FROM messages m
     WHERE m.conversation_id = c.id AND m.role = 'user' AND m.is_summary = 0)"""

#: The columns :func:`message_from_row` reads, for ``FROM messages``.
MESSAGE_COLUMNS = (
    "id, role, content, status, created_at, is_summary, persona, model,"
    " params, prompt_tokens, completion_tokens, tokens"
)


def info_from_row(row: Sequence[Any]) -> ConversationInfo:
    return ConversationInfo(
        id=int(row[0]),
        title=row[1],
        persona=str(row[2]),
        model=str(row[3]),
        created_at=float(row[4]),
        updated_at=float(row[5]),
        turns=int(row[6]),
    )


# Lookups instead of Role(...): resuming builds thousands of messages.
_ROLES = {role.value: role for role in Role}
_STATUSES = {status.value: status for status in ReplyStatus}


def message_from_row(row: Sequence[Any], *, path: Path) -> Message:
    """One message; a row that does not parse means a damaged file."""
    message_id = int(row[0])
    content = row[2]
    tokens = row[11]
    try:
        role = _ROLES.get(row[1]) or Role(row[1])
        status = _STATUSES.get(row[3]) or ReplyStatus(row[3])
    except ValueError as exc:
        raise damaged(path, f"message {message_id}: {exc}") from exc
    message = Message(
        role=role,
        content=content,
        status=status,
        id=message_id,
        created_at=float(row[4]),
        summary=bool(row[5]),
        # The estimate kept at write time spares re-counting a long history on resume.
        token_cache=(content, tokens) if type(tokens) is int else None,
    )
    # Only a reply that kept its thinking, and tool calls and results (their ids),
    # have their params parsed here (see LazyMeta).
    tools = role is Role.TOOL or status is ReplyStatus.TOOL_CALLS
    if tools or THINKING_KEY in row[8]:
        try:
            params = json.loads(row[8])
        except ValueError as exc:
            raise damaged(path, f"message {message_id}: {exc}") from exc
        if isinstance(params, dict):
            restore_thinking(message, params)
            restore_tool_fields(message, params)
    return message


class LazyMeta(Mapping[int, MessageMeta]):
    """Message metadata by id, each parsed when first asked for.

    Export reads all of it; resuming reads one entry (the newest summary's), so
    a resume of thousands of messages does not build thousands of these.
    """

    def __init__(self, rows: Iterable[Sequence[Any]], *, path: Path) -> None:
        # id -> (persona, model, params JSON, prompt tokens, completion tokens)
        self._raw = {int(row[0]): tuple(row[6:11]) for row in rows}
        self._parsed: dict[int, MessageMeta] = {}
        self._path = path

    def __getitem__(self, message_id: int) -> MessageMeta:
        parsed = self._parsed.get(message_id)
        if parsed is None:
            persona, model, params_text, prompt_tokens, completion_tokens = self._raw[message_id]
            try:
                params = {} if params_text == "{}" else json.loads(params_text)
            except ValueError as exc:
                raise damaged(self._path, f"message {message_id}: {exc}") from exc
            parsed = self._parsed[message_id] = MessageMeta(
                persona=persona,
                model=model,
                params=params if isinstance(params, dict) else {},
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        return parsed

    def __iter__(self) -> Iterator[int]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)
