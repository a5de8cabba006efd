"""The signed cookie a signed-in browser carries: who it is, until when.

HttpOnly (no script can read it), SameSite=Strict (no other site's page can send
it), signed with HMAC-SHA256 under a key that is random per process unless
``CHATBOT_WEB_SECRET`` keeps sign-ins across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

__all__ = ["COOKIE_NAME", "SessionSigner"]

COOKIE_NAME = "chatbot_session"
_DAYS = 30


class SessionSigner:
    """Issues and checks session cookie values."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        max_age: int = _DAYS * 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = (secret or secrets.token_urlsafe(32)).encode()
        self.max_age = max_age
        self._clock = clock

    def issue(self, user: str) -> str:
        expires = str(int(self._clock()) + self.max_age)
        name = base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")
        return f"{name}.{expires}.{self._sign(name, expires)}"

    def user(self, value: str | None) -> str | None:
        """The user a cookie value stands for, or None when forged, mangled or expired."""
        if not value:
            return None
        parts = value.split(".")
        if len(parts) != 3:
            return None
        name, expires, signature = parts
        if not hmac.compare_digest(signature, self._sign(name, expires)):
            return None
        if not expires.isdigit() or int(expires) < self._clock():
            return None
        try:
            return base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    def header(self, user: str, *, secure: bool) -> str:
        """The ``Set-Cookie`` value signing ``user`` in."""
        flags = f"HttpOnly; SameSite=Strict; Path=/; Max-Age={self.max_age}"
        return f"{COOKIE_NAME}={self.issue(user)}; {flags}" + ("; Secure" if secure else "")

    def _sign(self, name: str, expires: str) -> str:
        mac = hmac.new(self._key, f"{name}.{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")
