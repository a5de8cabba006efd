"""The wall in front of every request: host, sign-in, origin, body size, headers, log.

Pure ASGI, so streamed replies pass through untouched. In order:

- On loopback, the ``Host`` header must name this machine: a DNS-rebinding page
  would otherwise reach the server under its own domain.
- ``/?token=…`` from the printed link trades the token for the session cookie.
- Every other path but ``/healthz`` and the static assets needs the cookie: 401.
- A request that changes state must come from this page's own origin (CSRF).
- Bodies over the limit are refused with one line (413), however they are framed.
- Every response carries the Content-Security-Policy (no inline script, nothing
  from another origin) and every request leaves one access-log line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chatbot.i18n import _, speaking
from chatbot.web.access_log import AccessLog
from chatbot.web.credentials import Credentials
from chatbot.web.page_texts import language_for
from chatbot.web.session_cookie import COOKIE_NAME, SessionSigner

__all__ = ["CSP", "Guard", "GuardSettings"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types chatbot-html"
)
_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PUBLIC = ("/healthz", "/static/", "/api/login", "/favicon.ico")


@dataclass(frozen=True, kw_only=True)
class GuardSettings:
    credentials: Credentials
    signer: SessionSigner
    access_log: AccessLog | None
    #: Bound to loopback: check the Host header against this machine's names.
    loopback: bool
    #: Origins besides the request's own host that may change state (a proxy's public URL).
    origins: frozenset[str] = frozenset()
    #: Largest body of an ordinary request, and of a file upload.
    max_body: int = 2 * 1024 * 1024
    max_upload: int = 21 * 1024 * 1024
    #: The page shown (status 401) to a browser that is not signed in, by language.
    sign_in_page: Callable[[str], str] = lambda _accept: "sign in first"


class _TooLarge(Exception):
    pass


class Guard:
    """ASGI middleware applying :class:`GuardSettings` to every HTTP request."""

    def __init__(self, app: Asgi, settings: GuardSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        seen = {"status": 0}
        user: str | None = None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        # Every line this request (and the turn it starts) says, in the reader's language.
        language = language_for(_headers(scope).get("accept-language", ""))
        try:
            with speaking(language):
                user = await self._handle(scope, receive, send_with_headers)
        finally:
            log = self.settings.access_log
            if log is not None:
                log.write(
                    user=user or scope.get("state", {}).get("user"),
                    method=scope["method"],
                    path=scope["path"],
                    status=seen["status"] or 499,  # 499: the client left before an answer
                    ms=(time.monotonic() - started) * 1000,
                )

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> str | None:
        headers = _headers(scope)
        path: str = scope["path"]
        method: str = scope["method"]
        settings = self.settings
        if settings.loopback and _host_name(headers.get("host", "")) not in _LOOPBACK_NAMES:
            await _reply(send, 403, _("this server answers only to 127.0.0.1 and localhost"))
            return None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if path == "/" and method == "GET" and "token" in query:
            return await self._trade_token(query["token"][0], headers, send)
        public = path == "/healthz" or path.startswith(_PUBLIC)
        user = settings.signer.user(_cookie(headers))
        if user is None and not public:
            if path.startswith("/api/") or method != "GET":
                await _reply(send, 401, _("not signed in: open the link chatbot serve printed"))
            else:
                page = settings.sign_in_page(headers.get("accept-language", ""))
                await _reply(send, 401, page, content_type="text/html; charset=utf-8")
            return None
        if method in _UNSAFE and not self._same_origin(headers):
            await _reply(
                send, 403, _("refused: this request did not come from the chat's own page")
            )
            return user
        limit = settings.max_upload if path.startswith("/api/attachments") else settings.max_body
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _reply(send, 413, _too_large(limit))
            return user
        scope.setdefault("state", {})["user"] = user
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await _reply(send, 413, _too_large(limit))
        return user

    async def _trade_token(self, token: str, headers: dict[str, str], send: Send) -> str | None:
        """The printed link: a good token becomes the cookie, and the token leaves the URL."""
        user = self.settings.credentials.user_for_token(token)
        if user is None:
            page = self.settings.sign_in_page(headers.get("accept-language", ""))
            await _reply(send, 401, page, content_type="text/html; charset=utf-8")
            return None
        cookie = self.settings.signer.header(user, secure=_is_https(headers))
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", b"/"),
                    (b"set-cookie", cookie.encode()),
                    (b"cache-control", b"no-store"),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return user

    def _same_origin(self, headers: dict[str, str]) -> bool:
        origin = headers.get("origin")
        if origin is None:
            # Browsers send Origin on every cross-origin POST; a same-origin fetch says so.
            return headers.get("sec-fetch-site") == "same-origin"
        if origin in self.settings.origins:
            return True
        return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1].lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def _cookie(headers: dict[str, str]) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    morsel = jar.get(COOKIE_NAME)
    return morsel.value if morsel is not None else None


def _is_https(headers: dict[str, str]) -> bool:
    return headers.get("x-forwarded-proto", "").split(",")[0].strip() == "https"


def _too_large(limit: int) -> str:
    from chatbot.conversation.attachments import format_size

    return _("too large: a request may carry at most {size}").format(size=format_size(limit))


async def _reply(
    send: Send, status: int, text: str, *, content_type: str = "application/json"
) -> None:
    """A short answer: ``{"error": text}`` as JSON, or a page."""
    body = (
        json.dumps({"error": text}).encode()
        if content_type == "application/json"
        else text.encode()
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
