"""The store's ledger: the opt-in response cache and the usage table."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping, Sequence

from chatbot.store.connection import StoreConnection

__all__ = ["Ledger"]


class Ledger(StoreConnection):
    """Replies remembered for identical requests, and the tokens every request cost."""

    @staticmethod
    def cache_key(
        *,
        persona: str,
        model: str,
        params: Mapping[str, object],
        messages: Sequence[Mapping[str, object]],
    ) -> str:
        """A stable digest of everything that determines a reply.

        Attachments are inside the messages (text blocks, image data URLs), so a
        different file, or the same question without it, is a different key.
        """
        canonical = json.dumps(
            {
                "v": 1,
                "persona": persona,
                "model": model,
                "params": dict(params),
                "messages": [dict(message) for message in messages],
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def cache_get(self, key: str) -> str | None:
        """A cached reply for ``key``, if any."""

        def select(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT reply FROM response_cache WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

        return self._read(select)

    def cache_put(self, key: str, *, reply: str, model: str) -> None:
        """Remember a complete reply; a later put for the same key replaces it."""
        now = self._clock()

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO response_cache (key, reply, model, created_at)"
                " VALUES (?, ?, ?, ?)",
                (key, reply, model, now),
            )

        self._write(upsert)

    def record_usage(
        self,
        conversation_id: int | None,
        *,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        at: float | None = None,
    ) -> None:
        """Commit the usage the server reported for one request.

        It outlives the messages: /undo, /retry and deleting the conversation keep it.
        """
        if prompt_tokens < 0 or completion_tokens < 0:
            raise ValueError("token counts must not be negative")
        created_at = self._clock() if at is None else at

        def insert(conn: sqlite3.Connection) -> None:
            if conversation_id is not None:
                self._require_conversation(conn, conversation_id)
            conn.execute(
                "INSERT INTO usage"
                " (conversation_id, model, prompt_tokens, completion_tokens, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (conversation_id, model, prompt_tokens, completion_tokens, created_at),
            )

        self._write(insert)

    def usage_by_model(self, *, since: float) -> dict[str, tuple[int, int]]:
        """(prompt, completion) tokens of requests since ``since``, per model.

        Replies answered from the response cache cost nothing, so they are left out.
        """

        def select(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
            rows = conn.execute(
                "SELECT model, sum(prompt_tokens), sum(completion_tokens) FROM usage"
                " WHERE cached = 0 AND created_at >= ? GROUP BY model ORDER BY model",
                (since,),
            ).fetchall()
            return {str(row[0]): (int(row[1]), int(row[2])) for row in rows}

        return self._read(select)
