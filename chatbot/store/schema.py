"""The store's schema: one small function per version step, applied in order.

``MIGRATIONS[n]`` brings a file from schema version n to n + 1, the way
simonw/llm's ``migrations.py`` does it: a new version is a new function at the
end, never an edit to an old one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

__all__ = ["APPLICATION_ID", "MIGRATIONS", "schema_version"]

#: Marks a file as ours in the SQLite header (b"chat"), so a foreign database is refused.
APPLICATION_ID = 0x63686174


def migrate_to_1(conn: sqlite3.Connection) -> None:
    # AUTOINCREMENT so a deleted conversation's number never comes back as another one.
    conn.execute(
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT,
            persona TEXT NOT NULL,
            model TEXT NOT NULL,
            system_prompt TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL
                REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            status TEXT NOT NULL,
            persona TEXT NOT NULL,
            model TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            created_at REAL NOT NULL,
            is_summary INTEGER NOT NULL DEFAULT 0
        )"""
    )
    conn.execute("CREATE INDEX messages_by_conversation ON messages(conversation_id, id)")
    conn.execute("CREATE INDEX conversations_by_update ON conversations(updated_at)")
    conn.execute(
        """CREATE TABLE response_cache (
            key TEXT PRIMARY KEY,
            reply TEXT NOT NULL,
            model TEXT NOT NULL,
            created_at REAL NOT NULL
        )"""
    )


def migrate_to_2(conn: sqlite3.Connection) -> None:
    # Usage lives apart from messages: /retry, /undo and deleting a conversation remove
    # messages, but the tokens were paid for all the same.
    conn.execute(
        """CREATE TABLE usage (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER
                REFERENCES conversations(id) ON DELETE SET NULL,
            model TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            cached INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX usage_by_time ON usage(created_at)")
    # Version 1 kept usage only on the replies that are still there: carry it over.
    conn.execute(
        "INSERT INTO usage"
        " (conversation_id, model, prompt_tokens, completion_tokens, cached, created_at)"
        " SELECT conversation_id, model, coalesce(prompt_tokens, 0),"
        " coalesce(completion_tokens, 0), status = 'cached', created_at"
        " FROM messages"
        " WHERE role = 'assistant'"
        " AND (prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL)"
        " ORDER BY id"
    )


def migrate_add_attachments(conn: sqlite3.Connection) -> None:
    # Files attached to a message: text in full, images with their bytes so that
    # /retry and resume can send them again. They go with their message.
    conn.execute(
        """CREATE TABLE attachments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id INTEGER NOT NULL
                REFERENCES messages(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            mime TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            text TEXT,
            data BLOB
        )"""
    )
    conn.execute("CREATE INDEX attachments_by_message ON attachments(message_id, position)")


#: ``MIGRATIONS[n]`` brings a file from schema version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    migrate_to_1,
    migrate_to_2,
    migrate_add_attachments,
]


def schema_version() -> int:
    return len(MIGRATIONS)
    return len(MIGRATIONS)
