"""The conversation store: conversations and their messages, one row per message.

Each message is committed the moment it exists (see :mod:`connection` for the
transactions and :mod:`files` for refusing a file that is not ours).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.errors import StoreError
from chatbot.settings.paths import STORE_FILE_NAME
from chatbot.store.attachments import AttachmentDamaged, insert_attachments, load_attachments
from chatbot.store.files import damaged
from chatbot.store.ledger import Ledger
from chatbot.store.records import (
    ConversationInfo,
    ImportedConversation,
    MessageMeta,
    StoredConversation,
)

__all__ = ["Store", "default_store_path"]

_T = TypeVar("_T")

_TITLE_MAX = 60
#: Stay well below SQLite's bound-parameter limit when deleting many rows.
_DELETE_CHUNK = 500


def default_store_path(data_dir: Path) -> Path:
    """Where conversations live inside the user's data directory."""
    return data_dir / STORE_FILE_NAME


def _title_from(text: str) -> str | None:
    """First non-blank line, whitespace collapsed, at most 60 characters."""
    for line in text.splitlines():
        collapsed = " ".join(line.split())
        if collapsed:
            if len(collapsed) <= _TITLE_MAX:
                return collapsed
            return collapsed[: _TITLE_MAX - 1].rstrip() + "…"
    return None


def _clean_title(title: str) -> str:
    collapsed = " ".join(title.split())
    if not collapsed:
        raise StoreError("a conversation title cannot be blank")
    return collapsed


def _dump_params(params: Mapping[str, object] | None) -> str:
    return json.dumps(dict(params or {}), sort_keys=True, ensure_ascii=False)


_INFO_COLUMNS = """c.id, c.title, c.persona, c.model, c.created_at, c.updated_at,
    (SELECT count(*) FROM messages m
     WHERE m.conversation_id = c.id AND m.role = 'user' AND m.is_summary = 0)"""


def _info(row: Sequence[Any]) -> ConversationInfo:
    return ConversationInfo(
        id=int(row[0]),
        title=row[1],
        persona=str(row[2]),
        model=str(row[3]),
        created_at=float(row[4]),
        updated_at=float(row[5]),
        turns=int(row[6]),
    )


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
        if limit < 0:
            raise ValueError("limit must not be negative")
        needle = search or None

        def select(conn: sqlite3.Connection) -> list[ConversationInfo]:
            rows = conn.execute(
                f"SELECT {_INFO_COLUMNS} FROM conversations c"
                " WHERE ?1 IS NULL OR chatbot_contains(c.title, ?1) OR EXISTS ("
                "   SELECT 1 FROM messages m"
                "   WHERE m.conversation_id = c.id AND chatbot_contains(m.content, ?1))"
                " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?2",
                (needle, limit),
            ).fetchall()
            return [_info(row) for row in rows]

        return self._read(select)

    def load_conversation(self, conversation_id: int) -> StoredConversation:
        """Everything needed to resume or export a conversation."""

        def select(conn: sqlite3.Connection) -> StoredConversation:
            head = conn.execute(
                f"SELECT {_INFO_COLUMNS}, c.system_prompt FROM conversations c WHERE c.id = ?",
                (conversation_id,),
            ).fetchone()
            if head is None:
                raise StoreError(f"no conversation {conversation_id}")
            rows = conn.execute(
                "SELECT id, role, content, status, created_at, is_summary, persona, model,"
                " params, prompt_tokens, completion_tokens"
                " FROM messages WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
            messages: list[Message] = []
            meta: dict[int, MessageMeta] = {}
            for row in rows:
                message_id = int(row[0])
                try:
                    message = Message(
                        role=Role(row[1]),
                        content=row[2],
                        status=ReplyStatus(row[3]),
                        id=message_id,
                        created_at=float(row[4]),
                        summary=bool(row[5]),
                    )
                    params = json.loads(row[8])
                except ValueError as exc:
                    raise damaged(self._path, f"message {message_id}: {exc}") from exc
                messages.append(message)
                meta[message_id] = MessageMeta(
                    persona=row[6],
                    model=row[7],
                    params=params if isinstance(params, dict) else {},
                    prompt_tokens=row[9],
                    completion_tokens=row[10],
                )
            try:
                attached = load_attachments(conn, conversation_id)
            except AttachmentDamaged as exc:
                raise damaged(self._path, str(exc)) from exc
            for message in messages:
                message.attachments = attached.get(message.id or 0, ())
            return StoredConversation(
                info=_info(head), system_prompt=head[7], messages=messages, meta=meta
            )

        return self._read(select)

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
            " params, prompt_tokens, completion_tokens, created_at, is_summary)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            ),
        )
        assert cursor.lastrowid is not None
        if message.attachments:
            insert_attachments(conn, cursor.lastrowid, message.attachments)
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
                raise StoreError(f"no message {message_id}")
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
