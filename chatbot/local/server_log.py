"""What the embedded llama.cpp server logged but never told the client.

llama-cpp-python's server answers a streamed request that fails before its
first token (a prompt longer than ``--n_ctx``: "Requested tokens (3031) exceed
context window of 2048") with status 200 and an empty event stream; the error
goes only to its log. We start that server and own its log, so after an empty
reply we read what it logged during the request and say that instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["ServerLog"]

# The last line of a Python traceback: "ValueError: Requested tokens (...) exceed ...".
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w.]*)?(?:Error|Exception): (.+)$", re.MULTILINE)
#: The most of the log read after one request.
_MAX_READ = 256 * 1024


class ServerLog:
    """The local server's log file, read from a mark set when a request starts."""

    def __init__(
        self,
        path: Path,
        *,
        wait: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        #: How long to wait for the error to reach the log: the server ends the
        #: response before its exception handler writes the traceback.
        self.wait = wait
        self._clock = clock
        self._sleep = sleep

    def mark(self) -> int:
        """Where the log ends now."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def error_since(self, mark: int) -> str | None:
        """The message of the last exception logged after ``mark``, if one arrives soon."""
        deadline = self._clock() + self.wait
        while True:
            found = _EXCEPTION.findall(self._read_from(mark))
            if found:
                return " ".join(str(found[-1]).split())[:300]
            if self._clock() >= deadline:
                return None
            self._sleep(0.05)

    def _read_from(self, mark: int) -> str:
        try:
            with self.path.open("rb") as log:
                log.seek(mark)
                return log.read(_MAX_READ).decode("utf-8", errors="replace")
        except OSError:
            return ""
