"""What a 200 response body really is: a chat stream, a JSON completion, or neither.

The label (``Content-Type``) is only a hint: servers send SSE as
``application/json`` or ``text/plain``, and a base URL missing ``/v1`` gets a
web page with status 200. So the first bytes decide, and anything that is not
a chat reply raises :class:`NotChatBody` for :func:`~chatbot.api.translate.translate`
to explain in one line.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from chatbot.api.chunks import events_from_chunks, events_from_completion
from chatbot.api.events import Finished, StreamEvent
from chatbot.api.sse import Damage, decode, iter_sse

__all__ = ["NotChatBody", "decompressed", "error_message", "events_from_body", "page_title"]

#: The first field names an SSE stream can start with (a comment starts with ":").
_SSE_START = re.compile(rb"(data|event|id|retry|error)\s*:|:")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
#: Enough to see what a body is; a chat stream's first event is well under this.
_SNIFF_BYTES = 512
#: A JSON answer larger than this is not a chat completion we can show.
_MAX_JSON_BYTES = 32 * 1024 * 1024

Kind = Literal["web_page", "json_error", "error_event", "not_chat", "bad_encoding"]


class NotChatBody(Exception):
    """A 200 answer that is not a chat reply, or that reports an error inside it."""

    def __init__(self, kind: Kind, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}")
        #: web_page, json_error (a JSON error body), error_event (mid-stream), not_chat,
        #: bad_encoding (a compressed body that does not decompress).
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

    Only the first bytes are read before deciding, so a stream stays a stream:
    SSE, or newline-delimited JSON chunks (NDJSON). Bytes that are not UTF-8
    become U+FFFD and are counted in the final :class:`Finished`.
    """
    damage = Damage()
    for event in _events(chunks, damage):
        if isinstance(event, Finished) and damage.replaced_bytes:
            event = dataclasses.replace(event, replaced_bytes=damage.replaced_bytes)
        yield event


def _events(chunks: Iterable[bytes], damage: Damage) -> Iterator[StreamEvent]:
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
    if start[:1] == b"{":
        head = _first_line(head, stream)
        if _is_ndjson(head):
            yield from events_from_chunks(_ndjson_payloads(_chain(head, stream), damage))
            return
    if start[:1] in (b"{", b"["):
        yield from _json_body(head, stream, damage)
        return
    if _SSE_START.match(start):
        yield from events_from_chunks(_payloads(_chain(head, stream), damage))
        return
    first_line = start.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    raise NotChatBody("not_chat", " ".join(first_line.split())[:120])


def _first_line(head: bytes, rest: Iterator[bytes]) -> bytes:
    """``head`` read on until it holds a whole line (or the body ends)."""
    size = len(head)
    while b"\n" not in head.lstrip() and size <= _MAX_JSON_BYTES:
        chunk = next(rest, None)
        if chunk is None:
            break
        head += chunk
        size += len(chunk)
    return head


def _is_ndjson(head: bytes) -> bool:
    """True when the first line is a whole JSON chunk, or whole and not the only line."""
    stripped = head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    line, newline, after = stripped.partition(b"\n")
    if not newline:
        return False
    try:
        first = json.loads(line)
    except ValueError:
        return False  # a pretty-printed JSON document: its first line is "{"
    if not isinstance(first, dict):
        return False
    choices = first.get("choices")
    chunk_shaped = str(first.get("object", "")).endswith("chunk") or (
        isinstance(choices, list) and any(isinstance(c, dict) and "delta" in c for c in choices)
    )
    return chunk_shaped or bool(after.strip())


def _ndjson_payloads(chunks: Iterable[bytes], damage: Damage) -> Iterator[Mapping[str, Any]]:
    """One JSON chunk per line (no ``data:``), errors raised as in a stream."""
    partial = b""
    for chunk in chunks:
        partial += chunk
        *lines, partial = partial.split(b"\n")
        for line in lines:
            yield from _ndjson_line(line, damage)
    yield from _ndjson_line(partial, damage)


def _ndjson_line(line: bytes, damage: Damage) -> Iterator[Mapping[str, Any]]:
    text = decode(line, damage).strip()
    if not text or text == "[DONE]":
        return
    payload = json.loads(text.removeprefix("data:").strip())
    if isinstance(payload, dict) and payload.get("error"):
        raise NotChatBody("error_event", error_message(payload["error"]))
    if isinstance(payload, dict):
        yield payload


def decompressed(raw: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """A body labelled ``gzip`` or ``deflate``, decompressed; one that is not, as it is.

    Proxies relabel bodies: a plain stream sent as ``Content-Encoding: gzip`` is
    still readable, so the first bytes decide. A body that starts compressed and
    then breaks raises :class:`NotChatBody` (``bad_encoding``).
    """
    stream = iter(raw)
    head = b""
    for chunk in stream:
        head += chunk
        if len(head) >= 2:
            break
    label = encoding.strip().lower()
    if label in ("gzip", "x-gzip"):
        compressed = head[:2] == b"\x1f\x8b"
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    else:
        compressed = len(head) >= 2 and head[0] & 0x0F == 8 and int.from_bytes(head[:2]) % 31 == 0
        decompressor = zlib.decompressobj()
    if not compressed:
        yield head
        yield from stream
        return
    try:
        yield decompressor.decompress(head)
        for chunk in stream:
            yield decompressor.decompress(chunk)
        yield decompressor.flush()
    except zlib.error as exc:
        raise NotChatBody("bad_encoding", f"{label}: {exc}") from None


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


def _payloads(chunks: Iterable[bytes], damage: Damage) -> Iterator[Mapping[str, Any]]:
    """The JSON object of each SSE event, up to ``[DONE]``; errors raise."""
    for event in iter_sse(chunks, damage):
        data = event.data
        if event.error:
            try:
                detail = error_message(json.loads(data))
            except ValueError:
                detail = data
            raise NotChatBody("error_event", detail)
        if data.startswith("[DONE]"):
            return
        for payload in _event_objects(data):
            if isinstance(payload, dict) and payload.get("error"):
                raise NotChatBody("error_event", error_message(payload["error"]))
            if isinstance(payload, dict):
                yield payload


def _event_objects(data: str) -> list[Any]:
    """One event's JSON; a server that puts no blank line between events sends several."""
    try:
        return [json.loads(data)]
    except ValueError:
        lines = [line for line in data.split("\n") if line.strip()]
        if len(lines) < 2:
            raise
        return [json.loads(line) for line in lines if not line.startswith("[DONE]")]


def _json_body(head: bytes, rest: Iterator[bytes], damage: Damage) -> Iterator[StreamEvent]:
    """A whole JSON answer: a completion (the server ignored ``stream``) or an error."""
    parts = [head]
    size = len(head)
    for chunk in rest:
        parts.append(chunk)
        size += len(chunk)
        if size > _MAX_JSON_BYTES:
            raise NotChatBody("not_chat", "a JSON body too large to be a chat reply")
    body = json.loads(decode(b"".join(parts), damage))
    if isinstance(body, dict) and body.get("error"):
        raise NotChatBody("json_error", error_message(body["error"]))
    if isinstance(body, dict) and isinstance(body.get("choices"), list):
        yield from events_from_completion(body)
        return
    keys = ", ".join(list(body)[:5]) if isinstance(body, dict) else type(body).__name__
    raise NotChatBody("not_chat", f"JSON that is not a chat completion ({keys})")
