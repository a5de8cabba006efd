"""The conversation store: conversations and their messages, one row per message.

Each message is committed the moment it exists (see :mod:`connection` for the
transactions and :mod:`files` for refusing a file that is not ours).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from chatbot.cells import cut
from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.conversation.token_counter import TokenCounter
from chatbot.errors import StoreError
from chatbot.i18n import _
from chatbot.settings.paths import STORE_FILE_NAME
from chatbot.store import loading
from chatbot.store.attachment_rows import insert_attachments
from chatbot.store.ledger import Ledger
from chatbot.store.records import (
    ConversationInfo,
    ImportedConversation,
    MessageMeta,
    SearchResult,
    StoredConversation,
)
from chatbot.store.rows import INFO_COLUMNS, info_from_row
from chatbot.store.search import search as run_search
from chatbot.store.source_rows import insert_sources

__all__ = ["DEFAULT_WINDOW_TOKENS", "Store", "default_store_path"]

DEFAULT_WINDOW_TOKENS = loading.DEFAULT_WINDOW_TOKENS
#: Raw estimates only: calibration belongs to a session, the estimate to the text.
_COUNTER = TokenCounter()

_TITLE_MAX = 60
#: Stay well below SQLite's bound-parameter limit when deleting many rows.
_DELETE_CHUNK = 500


def default_store_path(data_dir: Path) -> Path:
    """Where conversations live inside the user's data directory."""
    return data_dir / STORE_FILE_NAME


def _title_from(text: str) -> str | None:
    """First non-blank line, whitespace collapsed, at most 60 terminal cells.

    Cells, not characters: a Japanese title is as wide on screen as an English one
    of the same length limit, and is never cut through a character.
    """
    for line in text.splitlines():
        collapsed = " ".join(line.split())
        if collapsed:
            return cut(collapsed, _TITLE_MAX)
    return None


def _clean_title(title: str) -> str:
    collapsed = " ".join(title.split())
    if not collapsed:
        raise StoreError(_("a conversation title cannot be blank"))
    return collapsed


def _dump_params(params: Mapping[str, object] | None) -> str:
    return json.dumps(dict(params or {}), sort_keys=True, ensure_ascii=False)


class Store(Ledger):
    """A conversation store on disk. Open with :meth:`Store.open`; use as a context manager."""

    # -- conversations ------------------------------------------------------------

    def create_conversation(
        self, *, persona: str, model: str, system_prompt: str, title: str | None = None
    ) -> int:
        """Start a conversation; without a title, the first user message provides one."""
        clean = None if title is None else _clean_title(title)
        now = self._clock()

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO conversations"
                " (title, persona, model, system_prompt, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (clean, persona, model, system_prompt, now, now),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        return self._write(insert)

    def update_conversation(
        self,
        conversation_id: int,
        *,
        persona: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        title: str | None = None,
    ) -> None:
        """Change the fields given (a persona switch, a rename); ``None`` leaves one alone."""
        changes: dict[str, object] = {}
        if persona is not None:
            changes["persona"] = persona
        if model is not None:
            changes["model"] = model
        if system_prompt is not None:
            changes["system_prompt"] = system_prompt
        if title is not None:
            changes["title"] = _clean_title(title)
        changes["updated_at"] = self._clock()
        # Column names come from the fixed keys above, never from the caller.
        assignments = ", ".join(f"{column} = ?" for column in changes)

        def update(conn: sqlite3.Connection) -> None:
            self._require_conversation(conn, conversation_id)
            conn.execute(
                f"UPDATE conversations SET {assignments} WHERE id = ?",
                (*changes.values(), conversation_id),
            )

        self._write(update)

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Give a conversation a title of the user's choosing."""
        self.update_conversation(conversation_id, title=title)

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation and, by cascade, all its messages."""

        def delete(conn: sqlite3.Connection) -> None:
            self._require_conversation(conn, conversation_id)
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

        self._write(delete)

    def latest_conversation_id(self) -> int | None:
        """The most recently active conversation, for ``--continue``."""

        def latest(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT id FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 1"
            ).fetchone()
            return None if row is None else int(row[0])

        return self._read(latest)

    def list_conversations(
        self, *, limit: int = 20, search: str | None = None
    ) -> list[ConversationInfo]:
        """Most recently active first; ``search`` matches titles and message text, any case."""
        if search:
            return [hit.info for hit in self.search_conversations(search, limit=limit).hits]
        if limit < 0:
            raise ValueError("limit must not be negative")

        def select(conn: sqlite3.Connection) -> list[ConversationInfo]:
            rows = conn.execute(
                f"SELECT {INFO_COLUMNS} FROM conversations c"
                " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
            return [info_from_row(row) for row in rows]

        return self._read(select)

    def search_conversations(self, text: str, *, limit: int = 20) -> SearchResult:
        """Conversations whose title or messages contain ``text`` (any case), newest first.

        Uses the full-text index; see :mod:`chatbot.store.search` for queries
        shorter than three characters.
        """
        if limit < 0:
            raise ValueError("limit must not be negative")
        return self._read(lambda conn: run_search(conn, text, limit=limit))

    def load_conversation(
        self, conversation_id: int, *, window_tokens: int | None = DEFAULT_WINDOW_TOKENS
    ) -> StoredConversation:
        """A conversation to resume: its newest turns that fit ``window_tokens``.

        Pass ``window_tokens=None`` for every message (export). A window leaves the
        older messages in the store; ``StoredConversation.earlier`` counts them.
        """
        return self._read(
            lambda conn: loading.load(
                conn, conversation_id, window_tokens=window_tokens, path=self._path
            )
        )

    def import_conversation(self, imported: ImportedConversation) -> int:
        """Add an exported conversation as a NEW conversation, in one transaction."""
        title = " ".join((imported.title or "").split()) or None
        if title is None:
            title = next(
                (
                    _title_from(item.message.content)
                    for item in imported.messages
                    if item.message.role is Role.USER and not item.message.summary
                ),
                None,
            )
        now = self._clock()

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO conversations"
                " (title, persona, model, system_prompt, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    title,
                    imported.persona,
                    imported.model,
                    imported.system_prompt,
                    imported.created_at,
                    now,
                ),
            )
            conversation_id = cursor.lastrowid
            assert conversation_id is not None
            for item in imported.messages:
                self._insert_message(conn, conversation_id, item.message, item.meta)
            return conversation_id

        return self._write(insert)

    # -- messages -----------------------------------------------------------------

    @staticmethod
    def _insert_message(
        conn: sqlite3.Connection, conversation_id: int, message: Message, meta: MessageMeta
    ) -> int:
        cursor = conn.execute(
            "INSERT INTO messages (conversation_id, role, content, status, persona, model,"
            " params, prompt_tokens, completion_tokens, created_at, is_summary, tokens)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                conversation_id,
                message.role.value,
                message.content,
                message.status.value,
                meta.persona,
                meta.model,
                _dump_params(meta.params),
                meta.prompt_tokens,
                meta.completion_tokens,
                message.created_at,
                int(message.summary),
                _COUNTER.raw_message_tokens(message),
            ),
        )
        assert cursor.lastrowid is not None
        if message.attachments:
            insert_attachments(conn, cursor.lastrowid, message.attachments)
        if message.sources:
            insert_sources(conn, cursor.lastrowid, message.sources)
        return cursor.lastrowid

    def append_message(
        self,
        conversation_id: int,
        message: Message,
        *,
        persona: str,
        model: str,
        params: Mapping[str, object] | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> int:
        """Commit one message now, set ``message.id``, and title an untitled conversation."""
        meta = MessageMeta(
            persona=persona,
            model=model,
            params=dict(params or {}),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        candidate = (
            # A message of files alone is titled by their names.
            _title_from(message.content or " ".join(a.name for a in message.attachments))
            if message.role is Role.USER and not message.summary
            else None
        )
        now = self._clock()

        def insert(conn: sqlite3.Connection) -> int:
            self._require_conversation(conn, conversation_id)
            message_id = self._insert_message(conn, conversation_id, message, meta)
            conn.execute(
                "UPDATE conversations SET updated_at = ?, title = coalesce(title, ?) WHERE id = ?",
                (now, candidate, conversation_id),
            )
            return message_id

        message.id = self._write(insert)
        return message.id

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        status: ReplyStatus | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        """Record how a reply ended (its final text, status and token usage)."""
        changes: dict[str, object] = {}
        if content is not None:
            changes["content"] = content
            changes["tokens"] = _COUNTER.raw_message_tokens(
                Message(role=Role.ASSISTANT, content=content)
            )
        if status is not None:
            changes["status"] = status.value
        if prompt_tokens is not None:
            changes["prompt_tokens"] = prompt_tokens
        if completion_tokens is not None:
            changes["completion_tokens"] = completion_tokens
        if not changes:
            return
        assignments = ", ".join(f"{column} = ?" for column in changes)
        now = self._clock()

        def update(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                f"UPDATE messages SET {assignments} WHERE id = ?", (*changes.values(), message_id)
            )
            if cursor.rowcount == 0:
                raise StoreError(_("no message {message_id}").format(message_id=message_id))
            conn.execute(
                "UPDATE conversations SET updated_at = ?"
                " WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)",
                (now, message_id),
            )

        self._write(update)

    def delete_messages(self, ids: Iterable[int]) -> None:
        """Remove messages (``/undo``, ``/retry``); unknown ids are ignored."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return
        now = self._clock()

        def delete(conn: sqlite3.Connection) -> None:
            for start in range(0, len(wanted), _DELETE_CHUNK):
                chunk = wanted[start : start + _DELETE_CHUNK]
                marks = ", ".join("?" * len(chunk))
                conn.execute(
                    "UPDATE conversations SET updated_at = ? WHERE id IN"
                    f" (SELECT conversation_id FROM messages WHERE id IN ({marks}))",
                    (now, *chunk),
                )
                conn.execute(f"DELETE FROM messages WHERE id IN ({marks})", chunk)

        self._write(delete)
