"""A reply's sources in the store: one row per passage it was given, beside its message.

Rows go with their message (``ON DELETE CASCADE``), as attachments do: /undo,
/retry and deleting a conversation leave none behind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from chatbot.conversation.references import Source

__all__ = ["insert_sources", "load_sources", "source_from_record", "source_record"]

_NUMBERS = ("first_line", "last_line", "first_page", "last_page")


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


def source_record(source: Source) -> dict[str, object]:
    """A source as plain JSON (the export's ``sources`` entries)."""
    return {
        "base": source.base,
        "label": source.label,
        "section": source.section,
        **{key: getattr(source, key) for key in _NUMBERS},
        "text": source.text,
    }


def source_from_record(record: object) -> Source:
    """The source a :func:`source_record` describes; ValueError naming a bad field."""
    if not isinstance(record, dict):
        raise ValueError("each source must be an object")
    texts = {}
    for key in ("base", "label", "section", "text"):
        value = record.get(key, "" if key == "section" else None)
        if not isinstance(value, str):
            raise ValueError(f"{key} must be a string")
        texts[key] = value
    numbers = {}
    for key in _NUMBERS:
        value = record.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{key} must be a non-negative integer")
        numbers[key] = value
    return Source(
        base=texts["base"],
        label=texts["label"],
        section=texts["section"],
        text=texts["text"],
        first_line=numbers["first_line"],
        last_line=numbers["last_line"],
        first_page=numbers["first_page"],
        last_page=numbers["last_page"],
    )
