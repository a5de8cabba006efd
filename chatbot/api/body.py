"""What a 200 response body really is: a chat stream, a JSON completion, or neither.

The label (``Content-Type``) is only a hint: servers send SSE as
``application/json`` or ``text/plain``, and a base URL missing ``/v1`` gets a
web page with status 200. So the first bytes decide, and anything that is not
a chat reply raises :class:`NotChatBody` for :func:`~chatbot.api.translate.translate`
to explain in one line.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from chatbot.api.chunks import events_from_chunks, events_from_completion
from chatbot.api.events import Finished, StreamEvent
from chatbot.api.sse import iter_sse

__all__ = ["NotChatBody", "error_message", "events_from_body", "page_title"]

#: The first field names an SSE stream can start with (a comment starts with ":").
_SSE_START = re.compile(rb"(data|event|id|retry|error)\s*:|:")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
#: Enough to see what a body is; a chat stream's first event is well under this.
_SNIFF_BYTES = 512
#: A JSON answer larger than this is not a chat completion we can show.
_MAX_JSON_BYTES = 32 * 1024 * 1024

Kind = Literal["web_page", "json_error", "error_event", "not_chat"]


class NotChatBody(Exception):
    """A 200 answer that is not a chat reply, or that reports an error inside it."""

    def __init__(self, kind: Kind, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}")
        #: web_page, json_error (a JSON error body), error_event (mid-stream), not_chat.
        self.kind: Kind = kind
        #: The server's own words (unredacted: translate() redacts), or a page title.
        self.detail = detail
        #: Where a redirect led, when there was one; set by the client.
        self.redirected_to: str | None = None


def error_message(error: object) -> str:
    """The message of an error object: ``{"message": ...}``, a string, or its JSON."""
    if isinstance(error, dict):
        for key in ("message", "detail", "error"):
            value = error.get(key)
            if isinstance(value, str) and value.strip():
                return value
            if isinstance(value, dict):
                return error_message(value)
    if isinstance(error, str):
        return error
    return json.dumps(error, ensure_ascii=False)[:300] if error else ""


def page_title(body: bytes) -> str:
    """The ``<title>`` of an HTML page, or "" when it has none."""
    match = _TITLE.search(body)
    if match is None:
        return ""
    title = html.unescape(match.group(1).decode("utf-8", errors="replace"))
    return " ".join(title.split())[:80]


def events_from_body(chunks: Iterable[bytes]) -> Iterator[StreamEvent]:
    """Events from a 200 body, whatever its label; raises :class:`NotChatBody`.

    Only the first bytes are read before deciding, so a stream stays a stream.
    """
    stream = iter(chunks)
    head = b""
    for chunk in stream:
        head += chunk
        start = head.lstrip()
        if start[:1] in (b"{", b"[", b"<") or b"\n" in start or len(start) >= _SNIFF_BYTES:
            break
    start = head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    if not start:
        yield Finished(None)  # an empty body: nothing at all was said
        return
    if start[:1] == b"<":
        raise NotChatBody("web_page", page_title(_read_up_to(head, stream, 65536)))
    if start[:1] in (b"{", b"["):
        yield from _json_body(head, stream)
        return
    if _SSE_START.match(start):
        yield from events_from_chunks(_payloads(_chain(head, stream)))
        return
    first_line = start.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    raise NotChatBody("not_chat", " ".join(first_line.split())[:120])


def _read_up_to(head: bytes, rest: Iterator[bytes], limit: int) -> bytes:
    parts = [head]
    size = len(head)
    for chunk in rest:
        if size >= limit:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _chain(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest


def _payloads(chunks: Iterable[bytes]) -> Iterator[Mapping[str, Any]]:
    """The JSON object of each SSE event, up to ``[DONE]``; errors raise."""
    for event in iter_sse(chunks):
        data = event.data
        if event.error:
            try:
                detail = error_message(json.loads(data))
            except ValueError:
                detail = data
            raise NotChatBody("error_event", detail)
        if data.startswith("[DONE]"):
            return
        payload = json.loads(data)
        if isinstance(payload, dict) and payload.get("error"):
            raise NotChatBody("error_event", error_message(payload["error"]))
        if isinstance(payload, dict):
            yield payload


def _json_body(head: bytes, rest: Iterator[bytes]) -> Iterator[StreamEvent]:
    """A whole JSON answer: a completion (the server ignored ``stream``) or an error."""
    parts = [head]
    size = len(head)
    for chunk in rest:
        parts.append(chunk)
        size += len(chunk)
        if size > _MAX_JSON_BYTES:
            raise NotChatBody("not_chat", "a JSON body too large to be a chat reply")
    body = json.loads(b"".join(parts))
    if isinstance(body, dict) and body.get("error"):
        raise NotChatBody("json_error", error_message(body["error"]))
    if isinstance(body, dict) and isinstance(body.get("choices"), list):
        yield from events_from_completion(body)
        return
    keys = ", ".join(list(body)[:5]) if isinstance(body, dict) else type(body).__name__
    raise NotChatBody("not_chat", f"JSON that is not a chat completion ({keys})")
