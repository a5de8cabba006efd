"""Which server and model pairs said they take no tools, kept across runs.

A server that rejects ``tools`` for a model costs one failed request and one
notice; remembering it (in a small private file in the data folder) means the
next run asks without tools at once. ``/tools on`` forgets the pair, for a
server that has been upgraded since.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from chatbot.errors import ConfigError
from chatbot.settings.paths import write_private

__all__ = ["ToolSupportMemory"]


class ToolSupportMemory:
    """A set of "server|model" keys, read lazily and written on change."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._keys: set[str] | None = None

    def _load(self) -> set[str]:
        if self._keys is None:
            self._keys = set()
            if self._path is not None:
                try:
                    data = json.loads(self._path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    data = None
                if isinstance(data, list):
                    self._keys = {item for item in data if isinstance(item, str)}
        return self._keys

    def unsupported(self, server: str, model: str) -> bool:
        return f"{server}|{model}" in self._load()

    def remember(self, server: str, model: str) -> None:
        keys = self._load()
        keys.add(f"{server}|{model}")
        self._save(keys)

    def forget(self, server: str, model: str) -> bool:
        """Forget the pair; True if it had been remembered."""
        keys = self._load()
        key = f"{server}|{model}"
        if key not in keys:
            return False
        keys.discard(key)
        self._save(keys)
        return True

    def _save(self, keys: set[str]) -> None:
        if self._path is None:
            return
        # Only a shortcut for next time: failing to keep it changes nothing now.
        with contextlib.suppress(ConfigError):
            write_private(self._path, json.dumps(sorted(keys), indent=1))
