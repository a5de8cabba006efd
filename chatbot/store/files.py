"""The store file on disk: refuse what is not ours, keep what is ours private.

A file that is foreign, damaged or from a newer version is refused with one
line naming it, and is left byte-for-byte untouched.

Opening checks only what costs the same at any size: the header, the schema
and the version. Damage deeper in the file is reported where SQLite meets it
(``SQLITE_CORRUPT``/``SQLITE_NOTADB`` on any statement, see ``is_damage``),
again in one line, before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from chatbot.errors import ConfigError, StoreError
from chatbot.i18n import _
from chatbot.settings.paths import open_private
from chatbot.store.schema import APPLICATION_ID, schema_version

__all__ = [
    "BUSY_TIMEOUT_S",
    "create_private",
    "damaged",
    "foreign",
    "inspect_existing",
    "is_busy",
    "is_damage",
    "newer",
    "tighten_mode",
]

_SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 10.0
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def error_code(exc: sqlite3.Error) -> int:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else -1


def is_busy(exc: sqlite3.Error) -> bool:
    return error_code(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED)


def is_damage(exc: sqlite3.Error) -> bool:
    return error_code(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def damaged(path: Path, detail: str) -> StoreError:
    return StoreError(
        _(
            "conversation store {path} is damaged ({detail}); move it aside and "
            "chatbot will start a new one"
        ).format(path=path, detail=detail)
    )


def newer(path: Path, version: int) -> StoreError:
    return StoreError(
        _(
            "conversation store {path} was written by a newer chatbot (schema "
            "{version}, this version reads up to {schema_version}); upgrade "
            "chatbot or move the file aside"
        ).format(path=path, version=version, schema_version=schema_version())
    )


def foreign(path: Path, what: str) -> StoreError:
    return StoreError(
        _(
            "{path} is {what}, not a chatbot conversation store; point chatbot at another file"
        ).format(path=path, what=what)
    )


def _page_size(header: bytes) -> int:
    raw = int.from_bytes(header[16:18], "big")
    return 65536 if raw == 1 else raw


def _check_header(path: Path, header: bytes, *, size: int, busy: bool) -> None:
    """Refuse a file whose header cannot be right, reading nothing more.

    Catches the commonest damage for free: a copy or a disk that stopped
    half-way leaves a file shorter than its header says.
    """
    page_size = _page_size(header)
    if page_size < 512 or page_size & (page_size - 1):
        raise damaged(path, _("impossible page size {size}").format(size=page_size))
    pages = int.from_bytes(header[28:32], "big")
    # The page count is valid only while the change counter matches bytes 92-95,
    # and a -wal file may hold pages the main file has not received yet.
    if busy or header[24:28] != header[92:96] or pages == 0:
        return
    if size < pages * page_size:
        raise damaged(
            path,
            _("the file is cut short: {size:,} of {expected:,} bytes").format(
                size=size, expected=pages * page_size
            ),
        )


def inspect_existing(path: Path) -> None:
    """Refuse a foreign, damaged or newer file while writing nothing, not even side files.

    With no ``-wal`` or ``-journal`` beside it, the main file holds every committed
    row, so it is read ``immutable``: SQLite then creates no ``-wal``/``-shm``. If side
    files exist, another chatbot may be writing, and a normal read-only open is safe.
    Only the header and the schema are read, so this costs the same for any size.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise StoreError(
            _("cannot read conversation store {path}: {strerror}").format(
                path=path, strerror=exc.strerror
            )
        ) from exc
    if not header:
        return  # SQLite treats an empty file as a new, empty database
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise foreign(path, _("not a SQLite database"))
    busy = any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    _check_header(path, header, size=size, busy=busy)
    uri = path.resolve().as_uri() + ("?mode=ro" if busy else "?mode=ro&immutable=1")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise StoreError(
            _("cannot read conversation store {path}: {error}").format(path=path, error=exc)
        ) from exc
    try:
        application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        # Reading the schema parses every table's definition: a damaged schema fails here.
        tables = len(conn.execute("SELECT name, sql FROM sqlite_master").fetchall())
    except sqlite3.Error as exc:
        if is_damage(exc):
            raise damaged(path, str(exc)) from exc
        raise StoreError(
            _("cannot read conversation store {path}: {error}").format(path=path, error=exc)
        ) from exc
    finally:
        conn.close()
    if application_id == APPLICATION_ID:
        if version > schema_version():
            raise newer(path, version)
    elif application_id != 0 or version != 0 or tables:
        raise foreign(path, _("a SQLite database of another program"))


def create_private(path: Path) -> None:
    """Create the folder (0700) and file (0600) before SQLite can create them world-readable."""
    try:
        fd = open_private(path, exclusive=True)
    except FileExistsError:
        return
    except (OSError, ConfigError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise StoreError(
            _("cannot create conversation store {path}: {reason}").format(path=path, reason=reason)
        ) from exc
    os.close(fd)


def tighten_mode(path: Path) -> None:
    """Make an existing store and its side files private; they hold every message."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            mode = candidate.stat().st_mode & 0o777
            if mode & 0o077:
                try:
                    candidate.chmod(mode & 0o700)
                except OSError as exc:
                    raise StoreError(
                        _(
                            "conversation store {candidate} is readable by others and cannot be "
                            "made private: {strerror}"
                        ).format(candidate=candidate, strerror=exc.strerror)
                    ) from exc
