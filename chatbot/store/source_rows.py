"""A reply's sources in the store: one row per passage it was given, beside its message.

Rows go with their message (``ON DELETE CASCADE``), as attachments do: /undo,
/retry and deleting a conversation leave none behind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from chatbot.conversation.references import Source

__all__ = ["insert_sources", "load_sources"]


def insert_sources(conn: sqlite3.Connection, message_id: int, sources: Sequence[Source]) -> None:
    """Store ``sources`` for the message ``message_id``, in the same transaction."""
    conn.executemany(
        "INSERT INTO message_sources (message_id, position, base, label, section, first_line,"
        " last_line, first_page, last_page, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                message_id,
                position,
                s.base,
                s.label,
                s.section,
                s.first_line,
                s.last_line,
                s.first_page,
                s.last_page,
                s.text,
            )
            for position, s in enumerate(sources)
        ],
    )


def load_sources(
    conn: sqlite3.Connection, conversation_id: int, *, since: int = 0
) -> dict[int, tuple[Source, ...]]:
    """A conversation's sources by message id, in order; ``since`` as for attachments."""
    rows = conn.execute(
        "SELECT s.message_id, s.base, s.label, s.section, s.first_line, s.last_line,"
        " s.first_page, s.last_page, s.text"
        " FROM message_sources s JOIN messages m ON m.id = s.message_id"
        " WHERE m.conversation_id = ? AND s.message_id >= ?"
        " ORDER BY s.message_id, s.position",
        (conversation_id, since),
    ).fetchall()
    found: dict[int, list[Source]] = {}
    for message_id, base, label, section, first, last, first_page, last_page, text in rows:
        found.setdefault(int(message_id), []).append(
            Source(
                base=base,
                label=label,
                section=section,
                first_line=int(first),
                last_line=int(last),
                first_page=int(first_page),
                last_page=int(last_page),
                text=text,
            )
        )
    return {message_id: tuple(items) for message_id, items in found.items()}
