"""Who may use the web chat: a link with a token on loopback, else a configured credential.

On loopback, a random token goes in the printed URL (as Jupyter does) and nothing
else is needed. Beyond loopback a credential must be configured, or the server does
not start: a shared token (``CHATBOT_WEB_TOKEN``) or a users file of names and
scrypt password hashes (``--users FILE`` or ``CHATBOT_WEB_USERS``). Passwords are
never stored: ``chatbot serve --hash-password`` prints the line to put in the file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chatbot.errors import ConfigError
from chatbot.i18n import _

__all__ = [
    "LOCAL_USER",
    "Credentials",
    "credentials_for",
    "hash_password",
    "is_loopback",
    "verify_password",
]

#: The one user of a loopback or shared-token server: the terminal's own store.
LOCAL_USER = "local"
_MIN_TOKEN = 16
# scrypt at n=2**14, r=8: ~16 MiB and tens of milliseconds a check, OWASP's floor.
_N, _R, _P = 2**14, 8, 1
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server to this machine."""
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$SALT$HASH``: what a users file holds for a password."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(("scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash from :func:`hash_password` (constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest + "==", altchars=b"-_")
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt + "==", altchars=b"-_"),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data, altchars=b"-_").decode().rstrip("=")


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """How people sign in: ``link`` (the printed URL's token), ``token`` or ``users``."""

    kind: Literal["link", "token", "users"]
    token: str = field(default="", repr=False)
    #: User name → scrypt hash, for ``users``.
    users: Mapping[str, str] = field(default_factory=dict, repr=False)

    def user_for_token(self, token: str) -> str | None:
        """The user a token signs in, or None."""
        if self.kind == "users" or not token or not self.token:
            return None
        return LOCAL_USER if hmac.compare_digest(token.encode(), self.token.encode()) else None

    def user_for_password(self, name: str, password: str) -> str | None:
        stored = self.users.get(name)
        if stored is None:
            # The same work for an unknown name, so timing does not tell names apart.
            verify_password(password, _DUMMY_HASH)
            return None
        return name if verify_password(password, stored) else None

    @property
    def hidden(self) -> tuple[str, ...]:
        """What must never appear in a log line."""
        return (self.token,) if self.token else ()


_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def credentials_for(
    *, host: str, environ: Mapping[str, str], users_file: Path | None = None
) -> Credentials:
    """The credential for a server bound to ``host``; ConfigError (exit 2) when none will do."""
    users_path = users_file or _path(environ.get("CHATBOT_WEB_USERS"))
    if users_path is not None:
        return Credentials(kind="users", users=load_users(users_path))
    token = environ.get("CHATBOT_WEB_TOKEN", "").strip()
    if token:
        if len(token) < _MIN_TOKEN:
            raise ConfigError(
                _(
                    "CHATBOT_WEB_TOKEN is too short to guess-proof: use at least {count} "
                    "random characters (python -c 'import secrets; "
                    "print(secrets.token_urlsafe())')"
                ).format(count=_MIN_TOKEN)
            )
        return Credentials(kind="token", token=token)
    if not is_loopback(host):
        raise ConfigError(
            _(
                "--host {host} opens the chat beyond this machine, so it needs a credential: "
                "set CHATBOT_WEB_TOKEN to a long random string, or give --users FILE "
                "(see: chatbot serve --help)"
            ).format(host=host)
        )
    return Credentials(kind="link", token=secrets.token_urlsafe(24))


def _path(raw: str | None) -> Path | None:
    return Path(raw).expanduser() if raw and raw.strip() else None


def load_users(path: Path) -> dict[str, str]:
    """``name:scrypt$…`` lines (``#`` comments); a bad line is one clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            _("cannot read the users file {path}: {reason}").format(
                path=path, reason=exc.strerror or exc
            )
        ) from None
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _colon, stored = line.partition(":")
        name = name.strip().lower()
        if not name or not set(name) <= _NAME_CHARS or not stored.startswith("scrypt$"):
            raise ConfigError(
                _(
                    "{path}, line {number}: expected NAME:HASH, with a name of letters, "
                    "digits, '-', '_' or '.', and a hash from: chatbot serve --hash-password"
                ).format(path=path, number=number)
            )
        users[name] = stored.strip()
    if not users:
        raise ConfigError(_("the users file {path} names no users").format(path=path))
    return users
