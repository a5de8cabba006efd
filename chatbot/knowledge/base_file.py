"""One knowledge base on disk: its own SQLite file in the data folder.

A base never shares a file with the conversation store, so a large index can
neither slow nor endanger it, and removing a base is removing one file. Passages
are indexed by an FTS5 table without content of its own (the text is kept once,
in ``chunks``); SQLite 3.40 has no ``contentless_delete``, so a passage leaves the
index by giving the index the same text again (:func:`index_fields`).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chatbot.errors import ConfigError
from chatbot.i18n import _
from chatbot.knowledge.spaceless import index_text
from chatbot.settings.paths import ensure_private_dir, private_file

__all__ = [
    "BaseFile",
    "BaseSummary",
    "KnowledgeError",
    "base_names",
    "base_path",
    "check_name",
    "index_fields",
    "knowledge_dir",
]

#: Marks a file as a knowledge base of ours (b"know").
APPLICATION_ID = 0x6B6E6F77
SCHEMA_VERSION = 1
#: Bumped whenever :func:`index_fields` would give other text: the index is rebuilt.
TOKENIZER_VERSION = "bigram-1"
TOKENIZER = "porter unicode61 remove_diacritics 2"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_SUFFIX = ".sqlite3"


class KnowledgeError(ConfigError):
    """A knowledge base cannot be found, opened or changed; one line for the user."""


def check_name(name: str) -> str:
    """A base's name, lower-cased; KnowledgeError when it is not a valid one."""
    clean = name.strip().lower()
    if not _NAME.fullmatch(clean):
        raise KnowledgeError(
            _(
                "{name!r} is not a knowledge base name: use up to 64 lowercase letters, "
                "digits, '-' and '_', starting with a letter or digit"
            ).format(name=name)
        )
    return clean


def knowledge_dir(data_dir: Path) -> Path:
    return data_dir / "knowledge"


def base_path(data_dir: Path, name: str) -> Path:
    return knowledge_dir(data_dir) / f"{check_name(name)}{_SUFFIX}"


def base_names(data_dir: Path) -> list[str]:
    """The bases in the data folder, by name."""
    folder = knowledge_dir(data_dir)
    try:
        found = [p.name[: -len(_SUFFIX)] for p in folder.iterdir() if p.name.endswith(_SUFFIX)]
    except OSError:
        return []
    return sorted(name for name in found if _NAME.fullmatch(name))


def index_fields(label: str, heading: str, text: str) -> tuple[str, str]:
    """(title, body) as the keyword index reads them, for inserting and deleting alike."""
    title = f"{label} {heading}".replace("/", " ").replace(".", " ")
    return index_text(title), index_text(text)


@dataclass(frozen=True, slots=True)
class BaseSummary:
    """One line of ``chatbot knowledge list``."""

    name: str
    files: int
    chunks: int
    text_bytes: int
    skipped: int
    updated_at: float | None
    embed_model: str | None
    embedded: int
    roots: tuple[str, ...]


_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE roots (path TEXT PRIMARY KEY, added_at REAL NOT NULL);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,
    chunks INTEGER NOT NULL,
    text_bytes INTEGER NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE TABLE skipped (
    path TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    heading TEXT NOT NULL,
    first_line INTEGER NOT NULL,
    last_line INTEGER NOT NULL,
    first_page INTEGER NOT NULL,
    last_page INTEGER NOT NULL,
    text TEXT NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE INDEX chunks_by_file ON chunks(file_id, position);
CREATE INDEX chunks_by_hash ON chunks(sha256);
CREATE VIRTUAL TABLE chunk_index USING fts5(title, body, content='', tokenize='{TOKENIZER}');
INSERT INTO chunk_index(chunk_index, rank) VALUES ('rank', 'bm25(2.0, 1.0)');
-- Vectors by the hash of the text embedded: unchanged passages keep theirs across updates.
CREATE TABLE vectors (sha256 TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""


class BaseFile:
    """An open knowledge base. Use :meth:`open` or :meth:`create`; close when done."""

    def __init__(self, conn: sqlite3.Connection, *, name: str, path: Path) -> None:
        self.conn = conn
        self.name = name
        self.path = path

    # -- opening ---------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: Path, name: str, *, create: bool = False) -> BaseFile:
        """The base ``name``; a new empty one with ``create``. KnowledgeError otherwise."""
        clean = check_name(name)
        path = base_path(data_dir, clean)
        exists = path.exists()
        if not exists and not create:
            known = base_names(data_dir)
            if known:
                raise KnowledgeError(
                    _("no knowledge base {name!r} (bases: {listed})").format(
                        name=clean, listed=", ".join(known)
                    )
                )
            raise KnowledgeError(
                _("no knowledge base {name!r} (add one: chatbot knowledge add NAME PATH)").format(
                    name=clean
                )
            )
        if not exists:
            ensure_private_dir(path.parent)
            private_file(path)
        try:
            conn = sqlite3.connect(
                path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise KnowledgeError(
                _("cannot open knowledge base {name!r} ({path}): {error}").format(
                    name=clean, path=path, error=exc
                )
            ) from None
        base = cls(conn, name=clean, path=path)
        try:
            base._prepare(new=not exists)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise KnowledgeError(
                _("{path} is not a usable knowledge base: {error}").format(path=path, error=exc)
            ) from None
        except KnowledgeError:
            conn.close()
            raise
        return base

    def _prepare(self, *, new: bool) -> None:
        conn = self.conn
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 10000")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if new or (app_id == 0 and version == 0 and not self._tables()):
            conn.execute("PRAGMA journal_mode = WAL")
            with self.transaction():
                for statement in _statements(_SCHEMA):
                    conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._set_meta("tokenizer", TOKENIZER_VERSION)
                self._set_meta("created_at", repr(time.time()))
            return
        if app_id != APPLICATION_ID:
            raise KnowledgeError(
                _("{path} is not a knowledge base of chatbot's: left untouched").format(
                    path=self.path
                )
            )
        if version > SCHEMA_VERSION:
            raise KnowledgeError(
                _(
                    "{path} was written by a newer chatbot (version {version}); upgrade chatbot"
                ).format(path=self.path, version=version)
            )
        conn.execute("PRAGMA synchronous = NORMAL")
        if self.meta("tokenizer") != TOKENIZER_VERSION:
            self.rebuild_index()

    def _tables(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT name FROM sqlite_master")]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> BaseFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- small helpers ---------------------------------------------------------------

    def transaction(self) -> _Transaction:
        return _Transaction(self.conn)

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def set_meta(self, key: str, value: str | None) -> None:
        with self.transaction():
            self._set_meta(key, value)

    # -- roots -----------------------------------------------------------------------

    def roots(self) -> list[Path]:
        return [Path(row[0]) for row in self.conn.execute("SELECT path FROM roots ORDER BY path")]

    def add_roots(self, paths: list[Path]) -> None:
        now = time.time()
        with self.transaction():
            self.conn.executemany(
                "INSERT OR IGNORE INTO roots (path, added_at) VALUES (?, ?)",
                [(str(p), now) for p in paths],
            )

    # -- passages and the index ------------------------------------------------------

    def delete_file(self, file_id: int) -> None:
        """Take one file's passages out of the index and the table (inside a transaction)."""
        conn = self.conn
        label_row = conn.execute("SELECT label FROM files WHERE id = ?", (file_id,)).fetchone()
        if label_row is None:
            return
        rows = conn.execute(
            "SELECT id, heading, text FROM chunks WHERE file_id = ?", (file_id,)
        ).fetchall()
        conn.executemany(
            "INSERT INTO chunk_index (chunk_index, rowid, title, body) VALUES ('delete', ?, ?, ?)",
            [(cid, *index_fields(label_row[0], heading, text)) for cid, heading, text in rows],
        )
        conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
        conn.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def rebuild_index(self) -> None:
        """Re-create the keyword index from the stored passages (a new tokenizer version)."""
        conn = self.conn
        with self.transaction():
            conn.execute("DROP TABLE IF EXISTS chunk_index")
            conn.execute(
                f"CREATE VIRTUAL TABLE chunk_index USING fts5(title, body, content='',"
                f" tokenize='{TOKENIZER}')"
            )
            conn.execute(
                "INSERT INTO chunk_index(chunk_index, rank) VALUES ('rank', 'bm25(2.0, 1.0)')"
            )
            rows = conn.execute(
                "SELECT c.id, f.label, c.heading, c.text"
                " FROM chunks c JOIN files f ON f.id = c.file_id"
            )
            conn.executemany(
                "INSERT INTO chunk_index (rowid, title, body) VALUES (?, ?, ?)",
                ((cid, *index_fields(label, heading, text)) for cid, label, heading, text in rows),
            )
            self._set_meta("tokenizer", TOKENIZER_VERSION)

    def summary(self) -> BaseSummary:
        conn = self.conn
        files, text_bytes = conn.execute(
            "SELECT count(*), coalesce(sum(text_bytes), 0) FROM files"
        ).fetchone()
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        skipped = conn.execute("SELECT count(*) FROM skipped").fetchone()[0]
        embedded = conn.execute(
            "SELECT count(*) FROM chunks c"
            " WHERE EXISTS (SELECT 1 FROM vectors v WHERE v.sha256 = c.sha256)"
        ).fetchone()[0]
        updated = self.meta("updated_at")
        return BaseSummary(
            name=self.name,
            files=int(files),
            chunks=int(chunks),
            text_bytes=int(text_bytes),
            skipped=int(skipped),
            updated_at=float(updated) if updated else None,
            embed_model=self.meta("embed_model"),
            embedded=int(embedded),
            roots=tuple(str(p) for p in self.roots()),
        )


class _Transaction:
    """``with base.transaction():`` — BEGIN IMMEDIATE, COMMIT, or ROLLBACK on an error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._outer = False

    def __enter__(self) -> sqlite3.Connection:
        self._outer = not self.conn.in_transaction
        if self._outer:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self._outer:
            return
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def _statements(script: str) -> Iterator[str]:
    for statement in script.split(";\n"):
        if statement.strip():
            yield statement.strip().rstrip(";")
