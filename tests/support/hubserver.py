"""A stand-in for the Hugging Face hub on 127.0.0.1, for ``chatbot pull`` tests.

It answers the requests huggingface_hub makes (read from its source, version 1.x):

* ``GET /api/models/{repo}/tree/main`` — the file listing (``list_repo_files``);
* ``HEAD /{repo}/resolve/main/{file}`` — ``ETag``/``X-Linked-Etag``, ``X-Repo-Commit``
  and ``Content-Length`` (``get_hf_file_metadata``);
* ``GET /{repo}/resolve/main/{file}`` with an optional ``Range: bytes=N-`` (``http_get``,
  which resumes an ``.incomplete`` file from where it stopped);
* unknown repositories and files as 404 with ``X-Error-Code: RepoNotFound`` or
  ``EntryNotFound``, as the hub does.

Behaviour knobs: ``rate`` (bytes per second, so a test can interrupt a pull
mid-way) and ``cut_after`` (drop the connection once, after that many bytes).
Every request is recorded with its Range header.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import ClassVar
from urllib.parse import unquote, urlsplit

__all__ = ["FakeHub", "HubRequest"]

_COMMIT = "0123456789abcdef0123456789abcdef01234567"
_CHUNK = 256 * 1024
_SHA256: dict[Path, str] = {}


def _sha256(path: Path) -> str:
    if path not in _SHA256:
        digest = hashlib.sha256()
        with path.open("rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
        _SHA256[path] = digest.hexdigest()
    return _SHA256[path]


@dataclass(frozen=True, slots=True)
class HubRequest:
    method: str
    path: str
    range: str | None


@dataclass
class FakeHub:
    """Serves ``files`` ({repo: {filename: local path}}) until stopped."""

    files: dict[str, dict[str, Path]]
    rate: float | None = None
    cut_after: int | None = None
    requests: list[HubRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_HubHandler):
            owner: ClassVar[FakeHub] = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def downloads(self) -> list[HubRequest]:
        """The GET requests for file contents, in order."""
        return [r for r in self.requests if r.method == "GET" and "/resolve/" in r.path]


class _HubHandler(BaseHTTPRequestHandler):
    owner: ClassVar[FakeHub]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _record(self) -> None:
        self.owner.requests.append(
            HubRequest(self.command, urlsplit(self.path).path, self.headers.get("Range"))
        )

    def _not_found(self, code: str) -> None:
        self.send_response(404)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Repo-Commit", _COMMIT)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _lookup(self) -> tuple[str, str, str] | None:
        """(kind, repo, rest) for ``/api/models/REPO/tree/main`` or ``/REPO/resolve/main/FILE``."""
        path = unquote(urlsplit(self.path).path)
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/") :]
            owner, _, after = rest.partition("/")
            name, _, tail = after.partition("/")
            return "api", f"{owner}/{name}", tail
        owner, _, after = path.lstrip("/").partition("/")
        name, _, tail = after.partition("/")
        if tail.startswith("resolve/main/"):
            return "file", f"{owner}/{name}", tail[len("resolve/main/") :]
        return None

    def do_GET(self) -> None:
        self._record()
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._record()
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        found = self._lookup()
        if found is None:
            self._not_found("RepoNotFound")
            return
        kind, repo, rest = found
        files = self.owner.files.get(repo)
        if files is None:
            self._not_found("RepoNotFound")
            return
        if kind == "api":
            listing = [
                {"type": "file", "path": name, "size": path.stat().st_size, "oid": _COMMIT}
                for name, path in files.items()
            ]
            payload = json.dumps(listing).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        source = files.get(rest)
        if source is None:
            self._not_found("EntryNotFound")
            return
        self._send_file(source, body=body)

    def _send_file(self, source: Path, *, body: bool) -> None:
        size = source.stat().st_size
        start = 0
        requested = self.headers.get("Range")
        if requested and requested.startswith("bytes="):
            start = int(requested[len("bytes=") :].split("-", 1)[0] or 0)
        etag = f'"{_sha256(source)}"'
        self.send_response(206 if start else 200)
        self.send_header("ETag", etag)
        self.send_header("X-Linked-Etag", etag)
        self.send_header("X-Repo-Commit", _COMMIT)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(size - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        if not body:
            return
        hub = self.owner
        sent = 0
        with source.open("rb") as data:
            data.seek(start)
            while block := data.read(_CHUNK):
                if hub.cut_after is not None and sent + len(block) > hub.cut_after:
                    # Drop the connection once, mid-file, as a flaky network would.
                    limit, hub.cut_after = hub.cut_after, None
                    self.wfile.write(block[: max(0, limit - sent)])
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                try:
                    self.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):
                    return
                sent += len(block)
                if hub.rate:
                    time.sleep(len(block) / hub.rate)
