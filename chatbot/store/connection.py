"""The store's connection: open a file safely, migrate it, run short transactions.

Conversations persist by default and must survive a crash, so every write is its
own short transaction. WAL mode plus ``BEGIN IMMEDIATE`` and a busy timeout let two
``chatbot`` processes share one file without losing rows.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from chatbot.errors import StoreError
from chatbot.i18n import _
from chatbot.store import schema
from chatbot.store.files import (
    BUSY_TIMEOUT_S,
    create_private,
    damaged,
    inspect_existing,
    is_busy,
    is_damage,
    newer,
    tighten_mode,
)

__all__ = ["StoreConnection", "contains"]

_T = TypeVar("_T")

#: Some busy conditions bypass the busy handler (WAL recovery, checkpoints), hence retries.
_BUSY_RETRIES = 5


def contains(haystack: object, needle: object) -> bool:
    """Unicode-aware case-insensitive substring test (SQLite's LIKE folds ASCII only)."""
    if not isinstance(haystack, str) or not isinstance(needle, str):
        return False
    return needle.casefold() in haystack.casefold()


class StoreConnection:
    """The store's SQLite connection: opening safely, migrating, short transactions."""

    def __init__(self, conn: sqlite3.Connection, *, path: Path, clock: Callable[[], float]) -> None:
        self._conn = conn
        self._path = path
        self._clock = clock
        # One connection may be shared by the REPL and a streaming thread.
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path, *, clock: Callable[[], float] = time.time) -> Self:
        """Open or create the store at ``path``, upgrading an older schema in place."""
        create_private(path)
        inspect_existing(path)
        tighten_mode(path)
        try:
            conn = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(
                _("cannot open conversation store {path}: {error}").format(path=path, error=exc)
            ) from exc
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
        self._conn.create_function("chatbot_contains", 2, contains, deterministic=True)
        self._write(self._migrate)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > schema.schema_version():
            raise newer(self._path, version)
        for migration in schema.MIGRATIONS[version:]:
            migration(conn)
        if version < schema.schema_version():
            # PRAGMA takes no bound parameters; both values are our own integers.
            conn.execute(f"PRAGMA user_version = {schema.schema_version()}")
            conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")

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

    def check_integrity(self) -> list[str]:
        """Read the whole file for damage: what opening skips to stay fast at any size.

        For a ``chatbot doctor``-style command, run on demand. Returns the problems
        found (none for a sound file), the search index's included.
        """

        def check(conn: sqlite3.Connection) -> list[str]:
            problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
            problems = [p for p in problems if p != "ok"]
            for index in ("message_index", "title_index"):
                try:
                    conn.execute(f"INSERT INTO {index}({index}) VALUES ('integrity-check')")
                except sqlite3.DatabaseError as exc:
                    problems.append(f"search index {index}: {exc}")
            return problems

        # A write transaction: FTS5 runs its check as a command, which needs one.
        return self._write(check)

    # -- transactions -------------------------------------------------------------

    def _retrying(self, action: Callable[[], _T]) -> _T:
        """Run ``action``, retrying a few times while another writer holds the lock."""
        for attempt in range(_BUSY_RETRIES):
            try:
                return action()
            except sqlite3.Error as exc:
                if is_busy(exc) and attempt + 1 < _BUSY_RETRIES:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                if is_busy(exc):
                    raise StoreError(
                        _(
                            "conversation store {path} stayed locked by another chatbot; try again"
                        ).format(path=self._path)
                    ) from exc
                if is_damage(exc):
                    raise damaged(self._path, str(exc)) from exc
                raise StoreError(
                    _("conversation store {path}: {error}").format(path=self._path, error=exc)
                ) from exc
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
        raise StoreError(
            _("no conversation {conversation_id}").format(conversation_id=conversation_id)
        )
