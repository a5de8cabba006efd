"""Loading a conversation: the whole of it (export), or the newest part (resume).

Resuming a conversation of thousands of messages must not read all of them:
only the newest turns are sent (see ``fit_to_budget``) or shown. The window is
the newest whole turns whose token estimate fits ``window_tokens``, never fewer
than :data:`REPLAY_TURNS`, plus the newest summary, which stands in for what
came before. Older messages stay in the store, untouched.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from chatbot.errors import StoreError
from chatbot.i18n import _
from chatbot.store.attachment_rows import AttachmentDamaged, load_attachments
from chatbot.store.files import damaged
from chatbot.store.records import StoredConversation
from chatbot.store.rows import (
    INFO_COLUMNS,
    MESSAGE_COLUMNS,
    LazyMeta,
    info_from_row,
    message_from_row,
)
from chatbot.store.source_rows import load_sources

__all__ = ["DEFAULT_WINDOW_TOKENS", "REPLAY_TURNS", "load"]

#: Enough for the default model's whole context; a larger model widens it on resume.
DEFAULT_WINDOW_TOKENS = 128_000
#: Turns always loaded, however large: the replay on resume shows these.
REPLAY_TURNS = 3
#: Estimate for rows written before token estimates were kept (schema < 3).
_UNCOUNTED = "coalesce(tokens, length(content) / 3 + 4)"


def _window_start(conn: sqlite3.Connection, conversation_id: int, window_tokens: int) -> int:
    """Id of the oldest message in the window; 0 when the whole conversation fits."""
    cursor = conn.execute(
        f"SELECT id, role, {_UNCOUNTED} FROM messages"
        " WHERE conversation_id = ? AND is_summary = 0 ORDER BY id DESC",
        (conversation_id,),
    )
    used = turn = turns = 0
    first = 0
    # Walk back a turn at a time (a turn opens with the user's message), reading
    # rows only until the window is full.
    for message_id, role, tokens in cursor:
        turn += int(tokens or 0)
        if role != "user":
            continue
        if turns >= REPLAY_TURNS and used + turn > window_tokens:
            cursor.close()
            return first
        used += turn
        turn = 0
        turns += 1
        first = int(message_id)
    return 0


def load(
    conn: sqlite3.Connection, conversation_id: int, *, window_tokens: int | None, path: Path
) -> StoredConversation:
    """The conversation ``conversation_id``: whole if ``window_tokens`` is None."""
    head = conn.execute(
        f"SELECT {INFO_COLUMNS}, c.system_prompt FROM conversations c WHERE c.id = ?",
        (conversation_id,),
    ).fetchone()
    if head is None:
        raise StoreError(
            _("no conversation {conversation_id}").format(conversation_id=conversation_id)
        )
    first = 0 if window_tokens is None else _window_start(conn, conversation_id, window_tokens)
    if first:
        # The newest summary before the window stands in for the turns it covers.
        rows = conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND (id >= ?2"
            " OR id = (SELECT max(id) FROM messages"
            "   WHERE conversation_id = ?1 AND is_summary = 1 AND id < ?2))"
            " ORDER BY id",
            (conversation_id, first),
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()
    messages = [message_from_row(row, path=path) for row in rows]
    # Summaries carry no files, so the window's own messages are the ones to look up.
    try:
        attached = load_attachments(conn, conversation_id, since=first)
    except AttachmentDamaged as exc:
        raise damaged(path, str(exc)) from exc
    if attached:
        for message in messages:
            message.attachments = attached.get(message.id or 0, ())
    cited = load_sources(conn, conversation_id, since=first)
    if cited:
        for message in messages:
            message.sources = cited.get(message.id or 0, ())
    earlier = 0
    if first:
        total = conn.execute(
            "SELECT count(*) FROM messages WHERE conversation_id = ? AND is_summary = 0",
            (conversation_id,),
        ).fetchone()[0]
        earlier = int(total) - sum(1 for m in messages if not m.summary)
    return StoredConversation(
        info=info_from_row(head),
        system_prompt=head[7],
        messages=messages,
        meta=LazyMeta(rows, path=path),
        earlier=earlier,
        window_tokens=window_tokens,
    )
