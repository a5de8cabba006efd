"""One line per request, in the data folder: time, user, method, path, status, duration.

Never a query string (the sign-in token travels in one, and searches are the user's
words), never a body, never a header: nothing a user wrote and nothing secret.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chatbot.settings.paths import open_private

__all__ = ["ACCESS_LOG_NAME", "AccessLog"]

ACCESS_LOG_NAME = "web-access.log"


class AccessLog:
    """Appends access lines to a private (0600) file."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._fd = open_private(path)

    def write(self, *, user: str | None, method: str, path: str, status: int, ms: float) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))
        shown = "".join(ch if ch.isprintable() and not ch.isspace() else "?" for ch in path)
        line = f"{stamp} {user or '-'} {method} {shown[:300]} {status} {ms:.0f}ms\n"
        with self._lock:
            os.write(self._fd, line.encode("utf-8", errors="replace"))

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
