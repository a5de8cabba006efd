"""An opt-in log of requests and outcomes (``--debug``), with secrets redacted.

Off by default. Each line is one JSON object, appended to a 0600 file in the
data folder, so a user can attach it to a bug report without leaking their key.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from chatbot.secrets import Redactor
from chatbot.settings.paths import private_file

__all__ = ["DebugLog"]


class DebugLog:
    """Appends redacted JSON lines to a private file."""

    def __init__(self, path: Path, *, redact: Redactor) -> None:
        self.path = private_file(path)
        self._redact = redact
        self._lock = threading.Lock()
        self._broken = False

    def event(self, kind: str, **fields: object) -> None:
        record = {"time": round(time.time(), 3), "event": kind, **fields}
        line = self._redact(json.dumps(record, ensure_ascii=False, default=str))
        with self._lock:
            if self._broken:
                return
            try:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            except OSError:
                # A full disk must not end the chat: stop logging instead.
                self._broken = True
