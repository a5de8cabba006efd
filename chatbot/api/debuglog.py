"""An opt-in log of requests and outcomes (``--debug``), with secrets redacted.

Off by default. Each line is one JSON object, appended to a 0600 file in the
data folder, so a user can attach it to a bug report without leaking their key.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

from chatbot.secrets import Redactor
from chatbot.settings.paths import private_file

__all__ = ["DebugLog"]

# Attached images travel as base64 data URLs of up to 20 MB: log their size, not them.
_DATA_URL = re.compile(r"(data:[\w.+/-]+;base64,)([A-Za-z0-9+/=]{64,})")


def _shorten_data_urls(line: str) -> str:
    return _DATA_URL.sub(lambda m: f"{m.group(1)}<{len(m.group(2)):,} characters>", line)


class DebugLog:
    """Appends redacted JSON lines to a private file."""

    def __init__(self, path: Path, *, redact: Redactor) -> None:
        self.path = private_file(path)
        self._redact = redact
        self._lock = threading.Lock()
        self._broken = False

    def event(self, kind: str, **fields: object) -> None:
        record = {"time": round(time.time(), 3), "event": kind, **fields}
        line = self._redact(_shorten_data_urls(json.dumps(record, ensure_ascii=False, default=str)))
        with self._lock:
            if self._broken:
                return
            try:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            except OSError:
                # A full disk must not end the chat: stop logging instead.
                self._broken = True
