"""How the store's rows become records: the conversation header and its messages.

Shared by the listing, the search and the loader, so a column added to one is
added to all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.store.files import damaged
from chatbot.store.records import ConversationInfo, MessageMeta

__all__ = ["INFO_COLUMNS", "MESSAGE_COLUMNS", "info_from_row", "message_from_row"]

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


def message_from_row(row: Sequence[Any], *, path: Path) -> tuple[Message, MessageMeta]:
    """One message and its metadata; a row that does not parse means a damaged file."""
    message_id = int(row[0])
    content = row[2]
    tokens = row[11]
    try:
        message = Message(
            role=Role(row[1]),
            content=content,
            status=ReplyStatus(row[3]),
            id=message_id,
            created_at=float(row[4]),
            summary=bool(row[5]),
            # The estimate kept at write time spares re-counting a long history on resume.
            token_cache=(content, int(tokens)) if isinstance(tokens, int) else None,
        )
        params = json.loads(row[8])
    except ValueError as exc:
        raise damaged(path, f"message {message_id}: {exc}") from exc
    meta = MessageMeta(
        persona=row[6],
        model=row[7],
        params=params if isinstance(params, dict) else {},
        prompt_tokens=row[9],
        completion_tokens=row[10],
    )
    return message, meta
