"""The store's schema: one small function per version step, applied in order.

``MIGRATIONS[n]`` brings a file from schema version n to n + 1, the way
simonw/llm's ``migrations.py`` does it: a new version is a new function at the
end, never an edit to an old one.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable

__all__ = ["APPLICATION_ID", "INDEX_STRIPS", "MIGRATIONS", "schema_version"]

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


#: Markdown emphasis marks left out of the search index (and out of every query), so
#: ``impor**tant**`` is found by "important". Frozen: changing it needs a new migration
#: that rebuilds the index.
INDEX_STRIPS = "*_`~"

#: Above this many messages, building the index is announced on stderr (it takes seconds).
_ANNOUNCE_FROM = 20_000


def _stripped(column: str) -> str:
    """SQL for ``column`` without the emphasis marks; must match search.normalize()."""
    expression = column
    for mark in INDEX_STRIPS:
        expression = f"replace({expression}, '{mark}', '')"
    return expression


def _indexed(conn: sqlite3.Connection, *, index: str, table: str, column: str) -> None:
    """An FTS5 trigram index over ``table.column``, kept in step by triggers.

    The index reads its text through a view that strips the emphasis marks, and
    stores only the index itself (``content=``), not another copy of the text.
    ``trigram`` matches any substring of 3+ characters, in scripts without spaces
    too, and ``case_sensitive 0`` folds case across Unicode (É/é, Ж/ж).
    """
    view = f"{index}_text"
    body = _stripped(f"coalesce({column}, '')")
    conn.execute(f"CREATE VIEW {view} AS SELECT id, {body} AS body FROM {table}")
    conn.execute(
        f"CREATE VIRTUAL TABLE {index} USING fts5(body, content='{view}', content_rowid='id',"
        " tokenize='trigram case_sensitive 0')"
    )
    new = _stripped(f"coalesce(new.{column}, '')")
    old = _stripped(f"coalesce(old.{column}, '')")
    conn.execute(
        f"CREATE TRIGGER {index}_insert AFTER INSERT ON {table} BEGIN"
        f" INSERT INTO {index}(rowid, body) VALUES (new.id, {new}); END"
    )
    conn.execute(
        f"CREATE TRIGGER {index}_delete AFTER DELETE ON {table} BEGIN"
        f" INSERT INTO {index}({index}, rowid, body) VALUES ('delete', old.id, {old}); END"
    )
    conn.execute(
        f"CREATE TRIGGER {index}_update AFTER UPDATE OF {column} ON {table}"
        f" WHEN old.{column} IS NOT new.{column} BEGIN"
        f" INSERT INTO {index}({index}, rowid, body) VALUES ('delete', old.id, {old});"
        f" INSERT INTO {index}(rowid, body) VALUES (new.id, {new}); END"
    )
    conn.execute(f"INSERT INTO {index}({index}) VALUES ('rebuild')")


def migrate_to_3(conn: sqlite3.Connection) -> None:
    # Each message's token estimate, kept at write time, so resuming a long
    # conversation needs neither its whole text nor a re-count of it. NULL for
    # rows written before version 3: those are estimated when loaded.
    conn.execute("ALTER TABLE messages ADD COLUMN tokens INTEGER")
    # Counting a conversation's turns (listing) and what a resume left out reads this
    # small index, not every row of a long conversation.
    conn.execute("CREATE INDEX messages_by_kind ON messages(conversation_id, is_summary, role)")
    # Which conversation each search hit belongs to, from an index a fraction of the
    # table's size: a common word has tens of thousands of hits.
    conn.execute("CREATE INDEX messages_by_id ON messages(id, conversation_id)")
    count = int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    if count >= _ANNOUNCE_FROM:
        print(
            f"chatbot: indexing {count:,} stored messages for search (once)…",
            file=sys.stderr,
            flush=True,
        )
    _indexed(conn, index="message_index", table="messages", column="content")
    _indexed(conn, index="title_index", table="conversations", column="title")


def migrate_to_4(conn: sqlite3.Connection) -> None:
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
    # Attached text files are searchable like the messages they came with.
    _indexed(conn, index="attachment_index", table="attachments", column="text")


def migrate_to_5(conn: sqlite3.Connection) -> None:
    # The passages from knowledge bases an answer was given with: where each came from
    # and its text as sent (the base may change or go; the record of what was said stays).
    conn.execute(
        """CREATE TABLE message_sources (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id INTEGER NOT NULL
                REFERENCES messages(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            base TEXT NOT NULL,
            label TEXT NOT NULL,
            section TEXT NOT NULL,
            first_line INTEGER NOT NULL,
            last_line INTEGER NOT NULL,
            first_page INTEGER NOT NULL,
            last_page INTEGER NOT NULL,
            text TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX message_sources_by_message ON message_sources(message_id, position)")


#: ``MIGRATIONS[n]`` brings a file from schema version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    migrate_to_1,
    migrate_to_2,
    migrate_to_3,
    migrate_to_4,
    migrate_to_5,
]


def schema_version() -> int:
    return len(MIGRATIONS)
