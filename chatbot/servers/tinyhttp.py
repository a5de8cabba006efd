"""One small HTTP/1.0 request over a socket, for probing servers on start-up.

``http.client`` pulls in the ``email`` package and costs 40-150 ms to import,
more than the whole budget for finding a local server; these probes need only a
status and a small JSON body, so they speak HTTP/1.0 directly (the server closes
the connection when done, and no chunked encoding is involved).
"""

from __future__ import annotations

import json
import socket
import time

__all__ = ["request_json"]

_LIMIT = 4_000_000


def request_json(
    method: str,
    host: str,
    port: int,
    path: str,
    *,
    timeout: float,
    body: object | None = None,
) -> object | None:
    """The JSON body of a 200 answer, or None for any failure (refused, slow, not JSON)."""
    deadline = time.monotonic() + timeout
    payload = b"" if body is None else json.dumps(body).encode()
    head = (
        f"{method} {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    )
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(head.encode("ascii") + payload)
            chunks: list[bytes] = []
            received = 0
            while received < _LIMIT:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                sock.settimeout(remaining)
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
    except (OSError, UnicodeError):
        return None
    raw = b"".join(chunks)
    header, _, content = raw.partition(b"\r\n\r\n")
    status_line = header.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or status_line[1] != b"200":
        return None
    if b"transfer-encoding: chunked" in header.lower():
        content = _unchunk(content)
    try:
        parsed: object = json.loads(content)
    except ValueError:
        return None
    return parsed


def _unchunk(content: bytes) -> bytes:
    """Decode a chunked body, for a server that answers HTTP/1.0 with HTTP/1.1 framing."""
    out = bytearray()
    while content:
        size_line, _, rest = content.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        content = rest[size + 2 :]
    return bytes(out)
