"""Keep the API key out of every output, error, log and export."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Redactor", "Secret"]

# Key-shaped strings we redact even when they are not the configured key, since
# servers sometimes echo back a key from another environment variable.
_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+[A-Za-z0-9_\-.]{8,})")


class Secret:
    """A string that refuses to show itself by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class Redactor:
    """Replaces known secrets, and anything shaped like an API key, with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Very short values would redact ordinary words; real keys are long.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return _KEY_PATTERN.sub("***", text)
