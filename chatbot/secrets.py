"""Keep the API key and a base URL's password out of every output, error, log and export."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

__all__ = ["Redactor", "Secret", "StreamScrubber", "url_secrets"]

# Key-shaped strings we redact even when they are not the configured key, since
# servers sometimes echo back a key from another environment variable.
_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+[A-Za-z0-9_\-.]{8,})")
# The password of any URL with credentials (scheme://user:password@host), however
# short: a URL names where it goes, so this never touches ordinary words.
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*):[^/\s]*@")


def url_secrets(url: str | None) -> list[str]:
    """The password of ``url`` (as written and decoded), for a :class:`Redactor`."""
    try:
        password = urlsplit(url or "").password
    except ValueError:
        return []
    if not password:
        return []
    return list(dict.fromkeys([password, unquote(password)]))


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
        text = _URL_PASSWORD.sub(r"\1:***@", text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return _KEY_PATTERN.sub("***", text)


class StreamScrubber:
    """Replaces one secret in streamed text, even when it is split across chunks.

    The end of each chunk that could be the start of the secret is held back
    until the next chunk shows whether it is; :meth:`flush` releases it.
    """

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._held = ""

    def feed(self, text: str) -> str:
        secret = self._secret
        text = (self._held + text).replace(secret, "***")
        hold = 0
        # Only a suffix starting with the secret's first character can be its start.
        start = max(0, len(text) - len(secret) + 1)
        position = text.find(secret[0], start)
        while position != -1:
            if secret.startswith(text[position:]):
                hold = len(text) - position
                break
            position = text.find(secret[0], position + 1)
        self._held = text[len(text) - hold :]
        return text[: len(text) - hold]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held
