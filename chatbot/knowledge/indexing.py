"""Bringing a base up to date with its files: only what changed is read again.

A file whose size and modification time are what the base recorded is not
opened. One whose size or time changed is read and hashed; if its bytes are the
same, only the record is updated; otherwise its passages are replaced. Files no
longer found are dropped. Files that cannot be read are recorded with the reason
and counted, and not tried again until they change. Reading and chunking run in
worker processes when there is much to read; the index is written in batches,
so Ctrl-C keeps what was done and the next update goes on from there.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from chatbot.i18n import N_
from chatbot.knowledge.base_file import BaseFile, index_fields
from chatbot.knowledge.chunking import Chunk, chunk_document
from chatbot.knowledge.extraction import MAX_DOCUMENT_BYTES, Unreadable, extract
from chatbot.knowledge.walking import Found, walk_roots

__all__ = ["Progress", "UpdateReport", "update_base"]

#: Below this much to read, worker processes cost more than they save.
_PARALLEL_FROM_BYTES = 4 * 1024 * 1024
#: Commit at least this often, so an interrupted run keeps its work.
_COMMIT_SECONDS = 2.0

#: Called with (files done, files to read, the file just done).
Progress = Callable[[int, int, str], None]


@dataclass(slots=True)
class UpdateReport:
    """What one ``add`` or ``update`` did."""

    read: int = 0
    unchanged: int = 0
    #: Files whose time changed but not their bytes.
    touched: int = 0
    removed: int = 0
    #: Why files were skipped, counted (new and known ones alike).
    skipped: Counter[str] = field(default_factory=Counter)
    #: (label, reason) of files skipped for the first time or again after a change.
    newly_skipped: list[tuple[str, str]] = field(default_factory=list)
    missing_roots: list[str] = field(default_factory=list)
    hidden: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.read or self.removed or self.newly_skipped)


@dataclass(frozen=True, slots=True)
class _Read:
    """What a worker made of one file."""

    path: str
    sha256: str = ""
    kind: str = ""
    chunks: tuple[Chunk, ...] = ()
    text_bytes: int = 0
    #: Set when the file could not be read; then nothing else is.
    reason: str | None = None
    #: True when the bytes hash to what the base already has.
    same: bool = False


def update_base(
    base: BaseFile, *, progress: Progress | None = None, workers: int | None = None
) -> UpdateReport:
    """Bring ``base`` up to date with the files under its roots; returns what changed."""
    started = time.monotonic()
    report = UpdateReport()
    walk = walk_roots(base.roots())
    report.missing_roots = walk.missing
    report.hidden = walk.hidden
    conn = base.conn
    known = {
        row[0]: (int(row[1]), int(row[2]), int(row[3]), str(row[4]))
        for row in conn.execute("SELECT path, id, size, mtime_ns, sha256 FROM files")
    }
    refused = {
        row[0]: (int(row[1]), int(row[2]), str(row[3]))
        for row in conn.execute("SELECT path, size, mtime_ns, reason FROM skipped")
    }
    present = {found.path for found in walk.files}
    to_read: list[Found] = []
    for found in walk.files:
        stored = known.get(found.path)
        if stored is not None and stored[1:3] == (found.size, found.mtime_ns):
            report.unchanged += 1
            continue
        skipped = refused.get(found.path)
        if skipped is not None and skipped[:2] == (found.size, found.mtime_ns):
            report.skipped[skipped[2]] += 1
            continue
        to_read.append(found)
    gone = [path for path in known if path not in present]
    with base.transaction():
        for path in gone:
            base.delete_file(known[path][0])
        conn.executemany(
            "DELETE FROM skipped WHERE path = ?", [(p,) for p in refused if p not in present]
        )
    report.removed = len(gone)
    writer = _Writer(base, known=known, report=report)
    total = len(to_read)
    try:
        for done, (found, result) in enumerate(_read_all(to_read, known, workers=workers), 1):
            writer.write(found, result)
            if progress is not None:
                progress(done, total, found.label)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        writer.finish()
    if report.changed or report.touched:
        base.set_meta("updated_at", repr(time.time()))
    report.seconds = time.monotonic() - started
    return report


def _read_all(
    to_read: list[Found], known: dict[str, tuple[int, int, int, str]], *, workers: int | None
) -> Iterator[tuple[Found, _Read]]:
    jobs = [(f.path, f.label, known.get(f.path, (0, 0, 0, ""))[3]) for f in to_read]
    volume = sum(f.size for f in to_read)
    count = workers if workers is not None else min(2, os.cpu_count() or 1)
    if count <= 1 or volume < _PARALLEL_FROM_BYTES or len(jobs) < 8:
        yield from zip(to_read, map(_read_one, jobs), strict=True)
        return
    with ProcessPoolExecutor(max_workers=count) as pool:
        results: Iterable[_Read] = pool.map(_read_one, jobs, chunksize=16)
        yield from zip(to_read, results, strict=True)


def _read_one(job: tuple[str, str, str]) -> _Read:
    """Read, hash, extract and chunk one file (in a worker process)."""
    path, label, known_sha = job
    try:
        size = os.stat(path).st_size
        if size > MAX_DOCUMENT_BYTES:
            return _Read(path=path, reason=f"too large ({size // 1_000_000:,} MB)")
        with open(path, "rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else type(exc).__name__
        return _Read(path=path, reason=f"cannot be read ({reason})")
    digest = hashlib.sha256(data).hexdigest()
    if digest == known_sha:
        return _Read(path=path, sha256=digest, same=True)
    try:
        document = extract(data, name=label)
    except Unreadable as exc:
        return _Read(path=path, sha256=digest, reason=str(exc))
    chunks = tuple(chunk_document(document))
    if not chunks:
        return _Read(path=path, sha256=digest, reason=N_("no text"))
    return _Read(
        path=path,
        sha256=digest,
        kind=document.kind.value,
        chunks=chunks,
        text_bytes=sum(len(c.text.encode("utf-8")) for c in chunks),
    )


def chunk_hash(heading: str, text: str) -> str:
    """What identifies a passage's vector: the text that is embedded."""
    return hashlib.sha256(f"{heading}\n{text}".encode()).hexdigest()


class _Writer:
    """Writes results into the base in batches, one transaction each."""

    def __init__(
        self, base: BaseFile, *, known: dict[str, tuple[int, int, int, str]], report: UpdateReport
    ) -> None:
        self.base = base
        self.known = known
        self.report = report
        self.conn = base.conn
        row = self.conn.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()
        self._next_id = int(row[0]) + 1
        self._since = time.monotonic()
        self._open = False

    def write(self, found: Found, result: _Read) -> None:
        if not self._open:
            self.conn.execute("BEGIN IMMEDIATE")
            self._open = True
        stored = self.known.get(found.path)
        now = time.time()
        if result.same and stored is not None:
            self.conn.execute(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?",
                (found.size, found.mtime_ns, stored[0]),
            )
            self.report.touched += 1
        elif result.reason is not None:
            if stored is not None:
                self.base.delete_file(stored[0])
            self.conn.execute(
                "INSERT OR REPLACE INTO skipped (path, label, size, mtime_ns, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (found.path, found.label, found.size, found.mtime_ns, result.reason),
            )
            self.report.skipped[result.reason] += 1
            self.report.newly_skipped.append((found.label, result.reason))
        else:
            if stored is not None:
                self.base.delete_file(stored[0])
            self.conn.execute("DELETE FROM skipped WHERE path = ?", (found.path,))
            self._insert(found, result, now)
            self.report.read += 1
        if time.monotonic() - self._since > _COMMIT_SECONDS:
            self._commit()

    def _insert(self, found: Found, result: _Read, now: float) -> None:
        cursor = self.conn.execute(
            "INSERT INTO files (path, label, size, mtime_ns, sha256, kind, chunks, text_bytes,"
            " indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                found.path,
                found.label,
                found.size,
                found.mtime_ns,
                result.sha256,
                result.kind,
                len(result.chunks),
                result.text_bytes,
                now,
            ),
        )
        file_id = cursor.lastrowid
        first = self._next_id
        self._next_id += len(result.chunks)
        rows = [
            (
                first + n,
                file_id,
                c.position,
                c.heading,
                c.first_line,
                c.last_line,
                c.pages[0],
                c.pages[1],
                c.text,
                chunk_hash(c.heading, c.text),
            )
            for n, c in enumerate(result.chunks)
        ]
        self.conn.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.conn.executemany(
            "INSERT INTO chunk_index (rowid, title, body) VALUES (?, ?, ?)",
            [
                (first + n, *index_fields(found.label, c.heading, c.text))
                for n, c in enumerate(result.chunks)
            ],
        )

    def _commit(self) -> None:
        if self._open:
            self.conn.execute("COMMIT")
            self._open = False
        self._since = time.monotonic()

    def finish(self) -> None:
        self._commit()
