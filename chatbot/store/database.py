"""The conversation store: SQLite, one row per message, committed the moment it exists.

Conversations persist by default and must survive a crash, so every write is its
own short transaction. WAL mode plus ``BEGIN IMMEDIATE`` and a busy timeout let two
``chatbot`` processes share one file without losing rows. A file that is not ours,
is damaged, or was written by a newer version is refused without touching it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.errors import StoreError

__all__ = [
    "ConversationInfo",
    "ImportedConversation",
    "ImportedMessage",
    "MessageMeta",
    "Store",
    "StoredConversation",
    "default_store_path",
]

_T = TypeVar("_T")

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Marks a file as ours in the SQLite header (b"chat"), so a foreign database is refused.
_APPLICATION_ID = 0x63686174
_BUSY_TIMEOUT_S = 10.0
#: Some busy conditions bypass the busy handler (WAL recovery, checkpoints), hence retries.
_BUSY_RETRIES = 5
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_TITLE_MAX = 60
#: Stay well below SQLite's bound-parameter limit when deleting many rows.
_DELETE_CHUNK = 500


def default_store_path(data_dir: Path) -> Path:
    """Where conversations live inside the user's data directory."""
    return data_dir / "conversations.sqlite3"


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    """One line of the conversation list."""

    id: int
    title: str | None
    persona: str
    model: str
    created_at: float
    updated_at: float
    #: Number of user messages, summaries excluded.
    turns: int


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """What a stored message carries beyond :class:`Message`: who answered, and at what cost."""

    persona: str
    model: str
    params: Mapping[str, object]
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class StoredConversation:
    """A conversation as loaded from the store."""

    info: ConversationInfo
    system_prompt: str
    messages: list[Message]
    #: Per-message metadata keyed by message id.
    meta: Mapping[int, MessageMeta]


@dataclass(frozen=True, slots=True)
class ImportedMessage:
    message: Message
    meta: MessageMeta


@dataclass(frozen=True, slots=True)
class ImportedConversation:
    """A validated conversation from an export file, not yet in any store."""

    title: str | None
    persona: str
    model: str
    system_prompt: str
    created_at: float
    messages: tuple[ImportedMessage, ...]


def _migrate_to_1(conn: sqlite3.Connection) -> None:
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


def _migrate_to_2(conn: sqlite3.Connection) -> None:
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


#: ``_MIGRATIONS[n]`` brings a file from schema version n to n + 1.
_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_to_1, _migrate_to_2]


def _schema_version() -> int:
    return len(_MIGRATIONS)


def _error_code(exc: sqlite3.Error) -> int:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else -1


def _is_busy(exc: sqlite3.Error) -> bool:
    return _error_code(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED)


def _is_damage(exc: sqlite3.Error) -> bool:
    return _error_code(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _damaged(path: Path, detail: str) -> StoreError:
    return StoreError(
        f"conversation store {path} is damaged ({detail}); move it aside and chatbot will "
        "start a new one"
    )


def _newer(path: Path, version: int) -> StoreError:
    return StoreError(
        f"conversation store {path} was written by a newer chatbot (schema {version}, this "
        f"version reads up to {_schema_version()}); upgrade chatbot or move the file aside"
    )


def _foreign(path: Path, what: str) -> StoreError:
    return StoreError(
        f"{path} is {what}, not a chatbot conversation store; point chatbot at another file"
    )


def _inspect_existing(path: Path) -> None:
    """Refuse a foreign, damaged or newer file while writing nothing, not even side files.

    With no ``-wal`` or ``-journal`` beside it, the main file holds every committed
    row, so it is read ``immutable``: SQLite then creates no ``-wal``/``-shm``. If side
    files exist, another chatbot may be writing, and a normal read-only open is safe.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read conversation store {path}: {exc.strerror}") from exc
    if not header:
        return  # SQLite treats an empty file as a new, empty database
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise _foreign(path, "not a SQLite database")
    busy = any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    uri = path.resolve().as_uri() + ("?mode=ro" if busy else "?mode=ro&immutable=1")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read conversation store {path}: {exc}") from exc
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
        application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    except sqlite3.Error as exc:
        if _is_damage(exc):
            raise _damaged(path, str(exc)) from exc
        raise StoreError(f"cannot read conversation store {path}: {exc}") from exc
    finally:
        conn.close()
    if problems != ["ok"]:
        raise _damaged(path, problems[0] if problems else "integrity check gave no answer")
    if application_id == _APPLICATION_ID:
        if version > _schema_version():
            raise _newer(path, version)
    elif application_id != 0 or version != 0 or tables:
        raise _foreign(path, "a SQLite database of another program")


def _create_private(path: Path) -> None:
    """Create the folder (0700) and file (0600) before SQLite can create them world-readable."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create conversation store {path}: {exc.strerror}") from exc
    os.close(fd)


def _tighten_mode(path: Path) -> None:
    """Make an existing store and its side files private; they hold every message."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            mode = candidate.stat().st_mode & 0o777
            if mode & 0o077:
                try:
                    candidate.chmod(mode & 0o700)
                except OSError as exc:
                    raise StoreError(
                        f"conversation store {candidate} is readable by others and cannot be "
                        f"made private: {exc.strerror}"
                    ) from exc


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


def _contains(haystack: object, needle: object) -> bool:
    """Unicode-aware case-insensitive substring test (SQLite's LIKE folds ASCII only)."""
    if not isinstance(haystack, str) or not isinstance(needle, str):
        return False
    return needle.casefold() in haystack.casefold()


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


class Store:
    """A conversation store on disk. Open with :meth:`Store.open`; use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, *, path: Path, clock: Callable[[], float]) -> None:
        self._conn = conn
        self._path = path
        self._clock = clock
        # One connection may be shared by the REPL and a streaming thread.
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path, *, clock: Callable[[], float] = time.time) -> Store:
        """Open or create the store at ``path``, upgrading an older schema in place."""
        _create_private(path)
        _inspect_existing(path)
        _tighten_mode(path)
        try:
            conn = sqlite3.connect(
                path,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open conversation store {path}: {exc}") from exc
        store = cls(conn, path=path, clock=clock)
        try:
            store._setup()
        except BaseException:
            conn.close()
            raise
        return store

    def _setup(self) -> None:
        def configure(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL loses nothing when the process crashes, only on power loss.
            conn.execute("PRAGMA synchronous = NORMAL")

        self._retrying(lambda: configure(self._conn))
        self._conn.create_function("chatbot_contains", 2, _contains, deterministic=True)
        self._write(self._migrate)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > _schema_version():
            raise _newer(self._path, version)
        for migration in _MIGRATIONS[version:]:
            migration(conn)
        if version < _schema_version():
            # PRAGMA takes no bound parameters; both values are our own integers.
            conn.execute(f"PRAGMA user_version = {_schema_version()}")
            conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")

    def close(self) -> None:
        """Close the file; SQLite folds the WAL back into it when the last user leaves."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._path

    # -- transactions -------------------------------------------------------------

    def _retrying(self, action: Callable[[], _T]) -> _T:
        """Run ``action``, retrying a few times while another writer holds the lock."""
        for attempt in range(_BUSY_RETRIES):
            try:
                return action()
            except sqlite3.Error as exc:
                if _is_busy(exc) and attempt + 1 < _BUSY_RETRIES:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                if _is_busy(exc):
                    raise StoreError(
                        f"conversation store {self._path} stayed locked by another chatbot; "
                        "try again"
                    ) from exc
                if _is_damage(exc):
                    raise _damaged(self._path, str(exc)) from exc
                raise StoreError(f"conversation store {self._path}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _transaction(self, body: Callable[[sqlite3.Connection], _T], *, begin: str) -> _T:
        def attempt() -> _T:
            self._conn.execute(begin)
            try:
                result = body(self._conn)
                self._conn.execute("COMMIT")
            except BaseException:
                # Ctrl-C or an error must never leave a transaction holding the lock.
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise
            return result

        with self._lock:
            return self._retrying(attempt)

    def _write(self, body: Callable[[sqlite3.Connection], _T]) -> _T:
        # IMMEDIATE takes the write lock up front, so the busy timeout applies and a
        # read-then-write upgrade can never fail halfway.
        return self._transaction(body, begin="BEGIN IMMEDIATE")

    def _read(self, body: Callable[[sqlite3.Connection], _T]) -> _T:
        return self._transaction(body, begin="BEGIN")

    def _require_conversation(self, conn: sqlite3.Connection, conversation_id: int) -> None:
        if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone():
            return
        raise StoreError(f"no conversation {conversation_id}")

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
                    raise _damaged(self._path, f"message {message_id}: {exc}") from exc
                messages.append(message)
                meta[message_id] = MessageMeta(
                    persona=row[6],
                    model=row[7],
                    params=params if isinstance(params, dict) else {},
                    prompt_tokens=row[9],
                    completion_tokens=row[10],
                )
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
            _title_from(message.content)
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

    # -- response cache and usage -------------------------------------------------

    @staticmethod
    def cache_key(
        *,
        persona: str,
        model: str,
        params: Mapping[str, object],
        messages: Sequence[Mapping[str, str]],
    ) -> str:
        """A stable digest of everything that determines a reply."""
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
