"""Store files as an older release left them, written with plain SQL.

Running today's code with a shortened migration list would write today's
columns; an old release wrote only its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chatbot.store import schema

__all__ = ["OldMessage", "write_old_store"]


@dataclass(frozen=True, kw_only=True)
class OldMessage:
    role: str
    content: str
    status: str = "complete"
    model: str = "m1"
    created_at: float = 100.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    is_summary: bool = False
    params: str = "{}"


def write_old_store(
    path: Path,
    *,
    version: int,
    conversations: Sequence[tuple[str | None, Sequence[OldMessage]]],
) -> list[int]:
    """A file at schema ``version`` holding ``(title, messages)`` conversations; their ids."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN")
        for migration in schema.MIGRATIONS[:version]:
            migration(conn)
        ids: list[int] = []
        for title, messages in conversations:
            cursor = conn.execute(
                "INSERT INTO conversations"
                " (title, persona, model, system_prompt, created_at, updated_at)"
                " VALUES (?, 'p', 'm1', 'Be brief.', 100.0, ?)",
                (title, 100.0 + len(ids)),
            )
            assert cursor.lastrowid is not None
            ids.append(cursor.lastrowid)
            for message in messages:
                conn.execute(
                    "INSERT INTO messages (conversation_id, role, content, status, persona,"
                    " model, params, prompt_tokens, completion_tokens, created_at, is_summary)"
                    " VALUES (?, ?, ?, ?, 'p', ?, ?, ?, ?, ?, ?)",
                    (
                        cursor.lastrowid,
                        message.role,
                        message.content,
                        message.status,
                        message.model,
                        message.params,
                        message.prompt_tokens,
                        message.completion_tokens,
                        message.created_at,
                        int(message.is_summary),
                    ),
                )
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
        conn.execute("COMMIT")
    finally:
        conn.close()
    return ids
