"""A scriptable local OpenAI-compatible server for tests, the benchmark and manual runs.

Stdlib only, so anything can use it without extra dependencies. Each chat request is
answered by one ``Reply``: the responder hook's, else the next queued one, else
``default_reply``. Streams are real SSE over HTTP/1.1 chunked encoding, written and
sent chunk by chunk, byte-for-byte shaped like OpenAI's.

What the openai SDK (3.57, over httpx2) does with each quirk, found by experiment:

- ``drop_after_chars``: the body ends without its last chunked-encoding frame, so the
  iterator raises ``APIConnectionError`` after yielding the partial content. (With a
  close-delimited body instead of chunked, the SDK would end the stream silently.)
- ``sse_error``: plain ``APIError`` (not an ``APIStatusError``: no status code),
  its ``message`` and ``body`` taken from the inner error object.
- ``malformed_line``: ``json.JSONDecodeError`` escapes the iterator unwrapped; it is
  not an ``APIError``.
- ``ignore_stream``: with ``stream=True`` the SDK yields nothing and raises nothing:
  a JSON body has no ``data:`` lines, so the stream looks empty.
- ``hang`` with a client timeout: ``APITimeoutError`` from ``create()`` itself,
  because the SDK waits for the response headers there.
- 429's ``Retry-After`` is readable as ``err.response.headers["retry-after"]``.
- Chunks with ``choices: []`` and the ``delta.reasoning_content`` (or ``reasoning``)
  field pass through; the latter only via ``delta.model_extra``.

Misbehaviours of real servers (issue 11), each at the HTTP level:

- ``finish_reason=None`` sends no finish chunk; ``done=False`` no ``data: [DONE]``;
  ``framing="close"`` sends a close-delimited body (no length, no chunking) that ends
  when the socket closes, as a proxy hitting its idle timeout does.
- ``error_line`` is llama.cpp's mid-stream ``error: {...}`` SSE line.
- ``raw_body`` answers with any body (an HTML page, a JSON error) at ``status``;
  ``content_type`` also mislabels a real SSE stream (``application/json``).
- ``tool_calls``, ``list_content``, ``choice_index`` and ``extra_choice`` shape the
  deltas; ``redirect_to`` answers 301, so the client's POST comes back as a GET (405).
- ``FakeOpenAIServer(not_found="ollama")`` answers unknown paths with Ollama's
  plain-text ``404 page not found`` instead of OpenAI's ``Invalid URL (POST ...)``;
  ``not_found="webapp"`` with a web app's HTML page and status 200 (a catch-all route).

Other shapes of a reply (issue 23): ``message_chunks`` puts each piece in
``choices[i].message`` with an empty ``delta``; ``text_index`` sends the text and the
finish at another index than the role chunk; ``refusal`` streams ``delta.refusal``
with ``content: null``; ``thinking_parts`` sends Mistral's ``thinking`` content part
first; ``bad_utf8`` puts bytes that are not UTF-8 inside the first piece; ``ndjson``
sends the chunks one JSON object a line, without ``data:``; ``encoding`` is "gzip"
(really compressed), "gzip-label" (labelled gzip, sent plain) or "gzip-broken" (a
gzip header, then garbage); ``hang_up`` reads the request and closes the connection
without a word; ``retry_after_date`` sends ``Retry-After`` as an HTTP date that many
seconds after the response's own ``Date``. ``FakeOpenAIServer(strict_roles=True)``
refuses, as strict chat templates do, any request whose user or assistant messages
do not alternate.

Tool calls (issue 16): ``tool_calls`` are streamed as ``delta.tool_calls`` the way
OpenAI does, the id and name first and the JSON arguments in ``argument_chunk_chars``
pieces after, by ``index`` (``interleave_tool_calls`` mixes the pieces of parallel
calls). A plain name stands for a call with ``{}`` arguments. ``reject_tools``: a 400
naming ``tools`` for any request that offers them, as servers without tool support answer.
"""

from __future__ import annotations

import argparse
import email.utils
import itertools
import json
import random
import select
import socket
import sys
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = [
    "WEB_APP_PAGE",
    "FakeOpenAIServer",
    "FakeToolCall",
    "OllamaModel",
    "RecordedRequest",
    "Reply",
    "Responder",
    "default_error_body",
    "estimate_usage",
    "main",
    "markdown_sample",
    "thinking_sample",
]

_DEFAULT_MODELS = ("fake-model", "gpt-4o-mini")
#: What ``not_found="webapp"`` serves for every unknown path.
WEB_APP_PAGE = (
    "<!doctype html><html><head><title>Chat UI</title></head>"
    '<body><div id="root"></div><script src="/app.js"></script></body></html>'
)
# How often blocked waits (hang, delays, serve loop) look at the closing flag.
_POLL_SECONDS = 0.02
# OpenAI's JSON has no spaces; byte counts in benchmarks should match.
_COMPACT = (",", ":")


@dataclass(frozen=True)
class FakeToolCall:
    """A call the fake model asks for; ``arguments`` is sent as is, valid JSON or not."""

    name: str
    arguments: str = "{}"
    id: str | None = None


@dataclass(kw_only=True)
class Reply:
    """How to answer one chat completion request.

    ``text=None`` echoes the last user message as ``"You said: ..."``. ``sse_error``
    is the inner error object; it is sent as ``data: {"error": sse_error}``.
    ``drop_after_chars`` and the other stream quirks apply only to streamed replies.
    """

    text: str | None = None
    chunk_chars: int = 8
    delay: float = 0.0
    first_byte_delay: float = 0.0
    status: int = 200
    error_body: dict[str, Any] | None = None
    context_length_error: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str | None = "stop"
    usage: bool = True
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    drop_after_chars: int | None = None
    sse_error: dict[str, Any] | None = None
    malformed_line: bool = False
    empty_choices_first: bool = False
    none_content_chunks: bool = False
    reasoning: str | None = None
    reject_stream_options: bool = False
    ignore_stream: bool = False
    hang: bool = False
    #: The delta field that carries ``reasoning``: "reasoning_content" (DeepSeek, vLLM,
    #: llama.cpp) or "reasoning" (Ollama, OpenRouter). Inline ``<think>`` goes in ``text``.
    reasoning_field: str = "reasoning_content"
    #: Reported as ``usage.completion_tokens_details.reasoning_tokens``; None: no details.
    reasoning_tokens: int | None = None
    # --- issue 11: servers that end or label a reply wrongly (see the module doc) ---
    #: ``finish_reason`` may also be None: the stream ends with no finish chunk.
    done: bool = True
    framing: str = "chunked"
    error_line: dict[str, Any] | None = None
    content_type: str | None = None
    raw_body: str | None = None
    list_content: bool = False
    choice_index: int = 0
    extra_choice: str | None = None
    redirect_to: str | None = None
    # --- issue 16: tool calls (see the module doc) ---
    tool_calls: Sequence[str | FakeToolCall] = ()
    argument_chunk_chars: int = 5
    interleave_tool_calls: bool = False
    reject_tools: bool = False
    # --- issue 23: answers in other shapes, bytes and framing (see the module doc) ---
    message_chunks: bool = False
    text_index: int | None = None
    refusal: str | None = None
    thinking_parts: str | None = None
    bad_utf8: bool = False
    ndjson: bool = False
    encoding: str | None = None
    hang_up: bool = False
    retry_after_date: float | None = None

    @property
    def finish(self) -> str | None:
        """``tool_calls`` when the reply asks for some and no other finish was set."""
        if self.tool_calls and self.finish_reason == "stop":
            return "tool_calls"
        return self.finish_reason

    @property
    def calls(self) -> list[FakeToolCall]:
        """The tool calls, a plain name made a call with ``{}`` and id ``call_N``."""
        return [
            FakeToolCall(call, "{}", f"call_{n}") if isinstance(call, str) else call
            for n, call in enumerate(self.tool_calls)
        ]


#: Decides the reply from a chat request body; ``None`` falls back to the queue.
Responder = Callable[[dict[str, Any]], Reply | None]


@dataclass(frozen=True, kw_only=True, repr=False)
class RecordedRequest:
    """One request as the server saw it. Header names are lower-cased."""

    path: str
    method: str
    headers: dict[str, str]
    body: Any

    def __repr__(self) -> str:
        # Tests print these on failure; the API key must never reach a log.
        shown = {k: ("<redacted>" if k == "authorization" else v) for k, v in self.headers.items()}
        return (
            f"RecordedRequest(method={self.method!r}, path={self.path!r}, "
            f"headers={shown!r}, body={self.body!r})"
        )


def _message_text(content: Any) -> str:
    """The text of a message's content, whether a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    return [m for m in messages if isinstance(m, dict)]


def _alternates(messages: Sequence[dict[str, Any]]) -> bool:
    """True when no two user (or assistant, without tool calls) messages are neighbours."""
    for before, after in itertools.pairwise(messages):
        role = before.get("role")
        calls = before.get("tool_calls") or after.get("tool_calls")
        if role in ("user", "assistant") and after.get("role") == role and not calls:
            return False
    return True


def _echo(body: dict[str, Any]) -> str:
    users = [m for m in _messages(body) if m.get("role") == "user"]
    last = _message_text(users[-1].get("content")) if users else ""
    return f"You said: {last}"


def estimate_usage(body: dict[str, Any], *, completion: str) -> tuple[int, int]:
    """A deterministic (prompt, completion) token estimate: ~4 chars a token.

    Each message costs 4 tokens of overhead, as chat templates add role markers.
    """
    messages = _messages(body)
    chars = sum(len(_message_text(m.get("content"))) for m in messages)
    prompt = chars // 4 + 4 * len(messages)
    return prompt, (len(completion) + 3) // 4


def default_error_body(reply: Reply, *, model: str) -> dict[str, Any]:
    """An OpenAI-shaped error body appropriate to ``reply.status``."""
    status = reply.status
    message: str
    kind: str
    code: str | None = None
    param: str | None = None
    if status == 400 and reply.context_length_error:
        message = (
            "This model's maximum context length is 8192 tokens. However, your messages "
            "resulted in 9000 tokens. Please reduce the length of the messages."
        )
        kind, code, param = "invalid_request_error", "context_length_exceeded", "messages"
    elif status == 400:
        message, kind = "Invalid request.", "invalid_request_error"
    elif status == 401:
        message, code = "Incorrect API key provided.", "invalid_api_key"
        kind = "invalid_request_error"
    elif status == 403:
        message, kind = "You are not allowed to access this resource.", "permission_error"
    elif status == 404:
        message = f"The model `{model}` does not exist or you do not have access to it."
        kind, code = "invalid_request_error", "model_not_found"
    elif status == 429:
        message = "Rate limit reached for requests. Please try again in 1s."
        kind, code = "requests", "rate_limit_exceeded"
    elif status >= 500:
        message = "The server had an error while processing your request. Sorry about that!"
        kind = "server_error"
    else:
        message, kind = f"HTTP {status}", "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _split(text: str, size: int) -> list[str]:
    if not text:
        return []
    if size <= 0:
        return [text]
    return [text[i : i + size] for i in range(0, len(text), size)]


class _ClientGone(Exception):
    """The client closed its connection, or the server is closing."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-reply is normal here; anything else is a bug in the
        # fake, kept for tests to assert on rather than printed.
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, (ConnectionError, _ClientGone, TimeoutError)):
            self.owner._record_error(exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Small SSE frames must leave at once, not wait for Nagle's algorithm.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests and benchmarks must not see per-request noise."""

    #: The time the response's Date header says, when a reply fixes it.
    _now: float | None = None

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is None and self._now is not None:
            return email.utils.formatdate(self._now, usegmt=True)
        return super().date_time_string(timestamp)

    # --- plumbing -------------------------------------------------------------------

    @property
    def _owner(self) -> FakeOpenAIServer:
        return self.server.owner

    def _read_body(self) -> Any:
        """The request's JSON body, or None when absent or not JSON."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._owner._record(
            RecordedRequest(path=self.path, method=self.command, headers=headers, body=body)
        )

    def _wait(self, seconds: float) -> None:
        """Sleep, but stop early (raising) if the server is closing."""
        if seconds > 0 and self._owner._closing.wait(seconds):
            raise _ClientGone

    def _wait_for_client_to_leave(self) -> None:
        sock = self.connection
        while not self._owner._closing.is_set():
            readable, _, _ = select.select([sock], [], [], _POLL_SECONDS)
            if readable:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        return
                except OSError:
                    return
                # The client sent more bytes (it should not); drain them and keep waiting.
                sock.recv(65536)

    def _send_head(self, status: int, content_type: str, extra: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:24]}")
        for name, value in extra.items():
            self.send_header(name, value)

    def _send_json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, separators=_COMPACT).encode()
        self._send_head(status, "application/json", extra or {})
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _send_raw(
        self, status: int, content_type: str, text: str, extra: dict[str, str] | None = None
    ) -> None:
        data = text.encode()
        self._send_head(status, content_type, extra or {})
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    #: "chunked", or "close" for a close-delimited body (see ``Reply.framing``).
    _framing = "chunked"
    #: ``Reply.encoding`` of the stream being sent, and its compressor.
    _encoding: str | None = None
    _gzip: Any = None
    _ndjson = False

    def _write_chunk(self, data: bytes) -> None:
        if self._encoding is not None:
            data = self._encoded(data)
        if self._framing == "close":
            if data:
                self.wfile.write(data)
            return
        # One chunked-encoding frame per write, so every SSE event leaves immediately.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _encoded(self, data: bytes) -> bytes:
        if self._encoding == "gzip-label":
            return data
        if not data:  # the end of the body: the compressor's last bytes, then the end
            tail = self._gzip.flush()
            if tail:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(tail), tail))
            return data
        packed = self._gzip.compress(data) + self._gzip.flush(zlib.Z_SYNC_FLUSH)
        if self._encoding == "gzip-broken":
            # A real gzip header, then bytes that are no deflate stream.
            self._encoding = "gzip-label"
            return packed[:10] + b"\xff" * 40
        return packed

    def _write_event(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=_COMPACT)
        if self._ndjson:
            if text != "[DONE]":
                self._write_chunk(f"{text}\n".encode())
            return
        self._write_chunk(f"data: {text}\n\n".encode())

    # --- routes ---------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        models = list(self._owner.models)
        if self.path.rstrip("/") == "/v1/models":
            data = [_model_object(m) for m in models]
            self._send_json(200, {"object": "list", "data": data})
        elif self.path.startswith("/v1/models/") and self.path[11:] in models:
            self._send_json(200, _model_object(self.path[11:]))
        elif self.path == "/api/ps" and self._owner.ollama is not None:
            self._send_json(200, _ollama_ps(self._owner.ollama))
        elif self.path.rstrip("/").endswith("/chat/completions"):
            error = {"message": "Method Not Allowed", "type": "invalid_request_error"}
            self._send_json(405, {"error": {**error, "param": None, "code": None}})
        else:
            self._not_found()

    def do_POST(self) -> None:
        body = self._read_body()
        self._record(body)
        if self.path == "/api/show" and self._owner.ollama is not None:
            shown = _ollama_show(self._owner.ollama, body)
            self._send_json(200 if shown else 404, shown or {"error": "model not found"})
            return
        if self.path.rstrip("/") == "/v1/embeddings" and self._owner.embeddings is not None:
            self._embed(body)
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._not_found()
            return
        if not isinstance(body, dict):
            message = "We could not parse the JSON body of your request."
            error = {"message": message, "type": "invalid_request_error", "param": None}
            self._send_json(400, {"error": {**error, "code": None}})
            return
        self._answer(body, self._owner._choose(body))

    def _embed(self, body: Any) -> None:
        """``/v1/embeddings`` (issue 21): words hashed into 64 numbers, one vector per
        input; ``embeddings="per-token"`` answers as llama-cpp-python does for a chat
        model, a list of vectors (one per token) for each input."""
        inputs = body.get("input") if isinstance(body, dict) else None
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        per_token = self._owner.embeddings == "per-token"
        data = []
        for index, text in enumerate(texts):
            vector = _hashed_vector(str(text))
            embedding: Any = [vector, vector] if per_token else vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
        self._send_json(200, {"object": "list", "data": data, "model": model})

    def _not_found(self) -> None:
        if self._owner.not_found == "ollama":
            self._send_raw(404, "text/plain", "404 page not found")
            return
        if self._owner.not_found == "webapp":
            # A single-page app's catch-all route: every path is its HTML shell.
            self._send_raw(200, "text/html; charset=utf-8", WEB_APP_PAGE)
            return
        message = f"Invalid URL ({self.command} {self.path})"
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
        self._send_json(404, {"error": error})

    # --- chat completions -----------------------------------------------------------

    def _answer(self, body: dict[str, Any], reply: Reply) -> None:
        model = str(body.get("model", "fake-model"))
        self._wait(reply.first_byte_delay)
        if reply.hang:
            self._wait_for_client_to_leave()
            self.close_connection = True
            return
        if reply.hang_up:
            # Read the request, answer nothing: a crashing worker behind a proxy.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self._owner.strict_roles and not _alternates(_messages(body)):
            error = {
                "message": "Conversation roles must alternate user/assistant/user/assistant/...",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
            self._send_json(400, {"error": error})
            return
        if reply.retry_after_date is not None:
            # Retry-After as an HTTP date, measured from this response's own Date.
            self._now = time.time()
            later = email.utils.formatdate(self._now + reply.retry_after_date, usegmt=True)
            reply = replace(reply, headers={**reply.headers, "Retry-After": later})
        streaming = body.get("stream") is True
        if streaming and reply.reject_stream_options and "stream_options" in body:
            error = {
                "message": "Unrecognized request argument supplied: stream_options",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
            self._send_json(400, {"error": error}, reply.headers)
            return
        if reply.reject_tools and body.get("tools"):
            error = {
                "message": f"tools is not supported for model {model}",
                "type": "invalid_request_error",
                "param": "tools",
                "code": None,
            }
            self._send_json(400, {"error": error}, reply.headers)
            return
        if reply.redirect_to is not None:
            target = f"http://127.0.0.1:{self._owner.port}{reply.redirect_to}/chat/completions"
            self._send_raw(301, "text/plain", "Moved Permanently", {"Location": target})
            return
        if reply.raw_body is not None:
            content_type = reply.content_type or "text/html; charset=utf-8"
            self._send_raw(reply.status, content_type, reply.raw_body, reply.headers)
            return
        if reply.status != 200:
            payload = reply.error_body or default_error_body(reply, model=model)
            self._send_json(reply.status, payload, reply.headers)
            return
        text = _echo(body) if reply.text is None else reply.text
        prompt, completion = estimate_usage(body, completion=(reply.reasoning or "") + text)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt if reply.prompt_tokens is None else reply.prompt_tokens,
            "completion_tokens": (
                completion if reply.completion_tokens is None else reply.completion_tokens
            ),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if reply.reasoning_tokens is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens}
        if streaming and not reply.ignore_stream:
            stream_options = body.get("stream_options")
            wants_usage = (
                isinstance(stream_options, dict)
                and stream_options.get("include_usage") is True
                and not reply.reject_stream_options
            )
            try:
                self._stream(model, text, reply, usage if wants_usage and reply.usage else None)
            except ConnectionError:
                # The client hung up mid-reply (Stop, Ctrl-C): a real server stops generating.
                self._owner._count_abandoned()
                raise
        else:
            self._send_json(200, _completion(model, text, reply, usage), reply.headers)

    def _stream(self, model: str, text: str, reply: Reply, usage: dict[str, int] | None) -> None:
        default_type = (
            "application/x-ndjson" if reply.ndjson else "text/event-stream; charset=utf-8"
        )
        content_type = reply.content_type or default_type
        self._send_head(200, content_type, reply.headers)
        self.send_header("Cache-Control", "no-cache")
        if reply.encoding is not None:
            self.send_header("Content-Encoding", "gzip")
            self._encoding = reply.encoding
            self._gzip = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        self._ndjson = reply.ndjson
        self._framing = reply.framing
        if reply.framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": choices,
            }
            if usage is not None:
                # OpenAI sends "usage": null on every chunk but the last when asked.
                out["usage"] = None
            out.update(extra)
            return out

        index = reply.choice_index

        def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            at = index if reply.text_index is None else reply.text_index
            choice = {"index": at, "delta": d, "finish_reason": finish, "logprobs": None}
            if reply.message_chunks and d and "role" not in d:
                choice = {**choice, "delta": {}, "message": {"role": "assistant", **d}}
            return chunk([choice])

        if reply.empty_choices_first:
            self._write_event(chunk([], prompt_filter_results=[]))
        role = {"role": "assistant", "content": "", "refusal": None}
        self._write_event(chunk([{"index": index, "delta": role, "finish_reason": None}]))
        if reply.thinking_parts is not None:
            part = {
                "type": "thinking",
                "thinking": [{"type": "text", "text": reply.thinking_parts}],
            }
            self._write_event(delta({"content": [part]}))
        for piece in _split(reply.refusal or "", reply.chunk_chars):
            self._wait(reply.delay)
            self._write_event(delta({"content": None, "refusal": piece}))
        for thought in _split(reply.reasoning or "", reply.chunk_chars):
            self._wait(reply.delay)
            self._write_event(delta({reply.reasoning_field: thought}))

        limit = reply.drop_after_chars
        sent = 0
        for n, piece in enumerate(self._content_deltas(text, reply)):
            self._wait(reply.delay)
            content = piece.get("content")
            if limit is not None and isinstance(content, str):
                if sent + len(content) > limit:
                    if limit > sent:
                        self._write_event(delta({"content": content[: limit - sent]}))
                    return  # drop: no terminating frame, the client sees a cut body
                sent += len(content)
            if reply.bad_utf8 and n == 0:
                # Two bytes that are not UTF-8, inside the JSON string itself.
                raw = json.dumps(delta(piece), separators=_COMPACT).encode()
                self._write_chunk(
                    b"data: " + raw.replace(b'"content":"', b'"content":"\xff\xfe', 1) + b"\n\n"
                )
                continue
            self._write_event(delta(piece))
            if reply.extra_choice is not None and n == 0:
                # A second choice the client did not ask for (n=1), interleaved.
                other = {"content": reply.extra_choice}
                self._write_event(chunk([{"index": 1, "delta": other, "finish_reason": None}]))
            if reply.malformed_line and n == 0:
                self._write_chunk(b"data: {this is not json\n\n")
        if limit is not None:
            return
        if reply.sse_error is not None:
            self._write_event({"error": reply.sse_error})
            self._write_event("[DONE]")
            self._write_chunk(b"")
            return
        if reply.error_line is not None:
            # llama.cpp's server: an "error" field, not "data", then a clean end.
            payload = json.dumps({"error": reply.error_line}, separators=_COMPACT)
            self._write_chunk(f"error: {payload}\n\n".encode())
            self._write_chunk(b"")
            return
        for piece in _tool_call_deltas(reply):
            self._wait(reply.delay)
            self._write_event(delta(piece))
        if reply.finish is not None:
            self._write_event(delta({}, reply.finish))
        if usage is not None:
            self._write_event(chunk([], usage=usage))
        if reply.done:
            self._write_event("[DONE]")
        self._write_chunk(b"")  # the zero-length frame ends a chunked body

    @staticmethod
    def _content_deltas(text: str, reply: Reply) -> Iterator[dict[str, Any]]:
        for n, piece in enumerate(_split(text, reply.chunk_chars)):
            if reply.none_content_chunks and n > 0:
                # Ollama-style noise between real deltas.
                yield {"content": None} if n % 2 else {"role": "assistant"}
            if reply.list_content:
                # Mistral style: a list of typed parts; only "text" parts are the answer.
                parts: list[dict[str, Any]] = [{"type": "text", "text": piece}]
                if n == 0:
                    parts.append({"type": "reference", "reference_ids": [1]})
                yield {"content": parts}
                continue
            yield {"content": piece}


def _call_id(call: FakeToolCall, index: int) -> str:
    return call.id or f"call_{index}_{uuid.uuid4().hex[:8]}"


def _tool_call_deltas(reply: Reply) -> Iterator[dict[str, Any]]:
    """``delta`` objects for the reply's tool calls: a head, then argument fragments."""
    streams: list[list[dict[str, Any]]] = []
    for index, call in enumerate(reply.calls):
        head = {"index": index, "id": _call_id(call, index), "type": "function"}
        pieces = [{**head, "function": {"name": call.name, "arguments": ""}}]
        for fragment in _split(call.arguments, reply.argument_chunk_chars):
            pieces.append({"index": index, "function": {"arguments": fragment}})
        streams.append(pieces)
    if reply.interleave_tool_calls:
        longest = max((len(pieces) for pieces in streams), default=0)
        ordered = [p[n] for n in range(longest) for p in streams if n < len(p)]
    else:
        ordered = [piece for pieces in streams for piece in pieces]
    for piece in ordered:
        yield {"tool_calls": [piece]}


def _hashed_vector(text: str, dims: int = 64) -> list[float]:
    """A deterministic bag of words: texts that share words point the same way."""
    vector = [0.0] * dims
    for word in "".join(c if c.isalnum() else " " for c in text.lower()).split():
        digest = hash_bytes(word.encode())
        vector[digest % dims] += 1.0
    norm = sum(x * x for x in vector) ** 0.5 or 1.0
    return [round(x / norm, 6) for x in vector]


def hash_bytes(data: bytes) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "little")


def _model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "fakeserver"}


def _completion(model: str, text: str, reply: Reply, usage: dict[str, int]) -> dict[str, Any]:
    content: Any = [{"type": "text", "text": text}] if reply.list_content else text
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": reply.refusal}
    if reply.refusal is not None:
        message["content"] = None
    if reply.reasoning is not None:
        message[reply.reasoning_field] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(call, index),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for index, call in enumerate(reply.calls)
        ]
    choices = [
        {
            "index": reply.choice_index,
            "message": message,
            "finish_reason": reply.finish,
            "logprobs": None,
        }
    ]
    if reply.extra_choice is not None:
        other = {"role": "assistant", "content": reply.extra_choice}
        choices.append({"index": 1, "message": other, "finish_reason": "stop", "logprobs": None})
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": choices,
        "usage": usage,
    }


@dataclass(frozen=True)
class OllamaModel:
    """What Ollama's native API says about one model (``FakeOpenAIServer.ollama``)."""

    #: ``model_info["llama.context_length"]`` in ``/api/show``.
    context_length: int
    #: ``num_ctx`` in the Modelfile's parameters, if set.
    num_ctx: int | None = None
    #: The context it runs with in ``/api/ps`` (None: not loaded).
    loaded_context: int | None = None


def _ollama_show(ollama: Mapping[str, OllamaModel], body: Any) -> dict[str, Any] | None:
    model = ollama.get(str(body.get("model"))) if isinstance(body, dict) else None
    if model is None:
        return None
    parameters = "stop <|im_end|>" + (f"\nnum_ctx {model.num_ctx}" if model.num_ctx else "")
    info = {"general.architecture": "llama", "llama.context_length": model.context_length}
    return {"model_info": info, "parameters": parameters, "details": {"format": "gguf"}}


def _ollama_ps(ollama: Mapping[str, OllamaModel]) -> dict[str, Any]:
    running = [
        {"name": name, "model": name, "context_length": model.loaded_context}
        for name, model in ollama.items()
        if model.loaded_context
    ]
    return {"models": running}


class FakeOpenAIServer:
    """A local OpenAI-compatible server on 127.0.0.1, scripted one reply at a time."""

    def __init__(
        self,
        *,
        port: int = 0,
        default_reply: Reply | None = None,
        models: Sequence[str] = _DEFAULT_MODELS,
        responder: Responder | None = None,
        not_found: str = "openai",
        strict_roles: bool = False,
    ) -> None:
        self.default_reply = default_reply if default_reply is not None else Reply()
        #: Refuse requests whose user and assistant messages do not alternate (400).
        self.strict_roles = strict_roles
        #: How unknown paths answer: "openai" (JSON Invalid URL), "ollama" (plain text)
        #: or "webapp" (an HTML page with status 200).
        self.not_found = not_found
        self.models: list[str] = list(models)
        self.responder = responder
        #: Set it to answer Ollama's native /api/show and /api/ps as well.
        self.ollama: dict[str, OllamaModel] | None = None
        #: "vectors" answers /v1/embeddings (one vector per input); "per-token" answers it
        #: with a vector per token, as llama-cpp-python does for a chat model; None: 404.
        self.embeddings: str | None = None
        self._port = port
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._abandoned = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Bind and serve in a daemon thread; returns self for chaining."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        httpd = _HTTPServer(("127.0.0.1", self._port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"fakeserver:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; hanging and delayed replies end at once."""
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting and inspection ---------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Script the next chat requests, first in first out."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the chat completion requests, oldest first."""
        return [r for r in self.requests if r.path.rstrip("/") == "/v1/chat/completions"]

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions inside the fake itself (bugs), for tests to assert on."""
        with self._lock:
            return list(self._errors)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def abandoned_streams(self) -> int:
        """Streamed replies the client hung up on before their end."""
        with self._lock:
            return self._abandoned

    def _count_abandoned(self) -> None:
        with self._lock:
            self._abandoned += 1

    def _record_error(self, exc: BaseException) -> None:
        with self._lock:
            self._errors.append(exc)

    def _choose(self, body: dict[str, Any]) -> Reply:
        responder = self.responder
        if responder is not None:
            chosen = responder(body)
            if chosen is not None:
                return chosen
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.default_reply


# --- Markdown sample ----------------------------------------------------------------

_WORDS = (
    "request", "stream", "buffer", "token", "model", "context", "budget", "reply", "render",
    "terminal", "cache", "latency", "session", "history", "persona", "prompt", "server",
    "client", "chunk", "retry", "timeout", "parser", "layout", "width", "scrollback",
    "cursor", "message", "summary", "limit", "config", "option", "value",
)  # fmt: skip
_IDENTS = ("max_tokens", "stream_options", "chunk_size", "retry_after", "base_url", "timeout")
_TITLES = (
    "Overview", "How it works", "Configuration", "Error handling", "Performance notes",
    "Examples", "Trade-offs", "Next steps", "Troubleshooting", "Summary",
)  # fmt: skip
_PYTHON = (
    "def {f}(items: list[str], *, limit: int = {n}) -> list[str]:\n"
    '    """Keep the first items that fit."""\n'
    "    kept: list[str] = []\n"
    "    for item in items:\n"
    "        if len(kept) >= limit:\n"
    "            break\n"
    "        kept.append(item.strip())\n"
    "    return kept\n"
)
_BASH = (
    "export OPENAI_BASE_URL=http://127.0.0.1:{n}/v1\n"
    "for i in $(seq 1 3); do\n"
    '  chatbot --model {w} "attempt $i" | tee -a {w}.log\n'
    "done\n"
)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 14))]
    i, j = rng.sample(range(1, len(words)), 2)
    words[i] = f"**{words[i]}**"
    words[j] = f"`{rng.choice(_IDENTS)}`"
    return " ".join(words).capitalize() + "."


def _block(kind: str, rng: random.Random) -> str:
    if kind == "heading":
        return f"## {rng.choice(_TITLES)}"
    if kind == "paragraph":
        return " ".join(_sentence(rng) for _ in range(rng.randint(2, 4)))
    if kind == "bullets":
        lines = []
        for _ in range(rng.randint(2, 4)):
            lines.append(f"- {_sentence(rng)}")
            if rng.random() < 0.6:
                lines.extend(f"  - {rng.choice(_WORDS)} {rng.choice(_WORDS)}" for _ in range(2))
        return "\n".join(lines)
    if kind == "numbered":
        return "\n".join(f"{i}. {_sentence(rng)}" for i in range(1, rng.randint(3, 5)))
    if kind == "table":
        rows = ["| Setting | Default | Effect |", "| --- | ---: | --- |"]
        rows.extend(
            f"| `{rng.choice(_IDENTS)}` | {rng.randint(1, 500)} | "
            f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} |"
            for _ in range(rng.randint(2, 4))
        )
        return "\n".join(rows)
    if kind == "python":
        code = _PYTHON.format(f=f"keep_{rng.choice(_WORDS)}", n=rng.randint(2, 64))
        return f"```python\n{code}```"
    code = _BASH.format(n=rng.randint(8000, 8999), w=rng.choice(_WORDS))
    return f"```bash\n{code}```"


def markdown_sample(tokens: int, *, seed: int = 0) -> str:
    """Deterministic, realistic Markdown of about ``tokens`` tokens (~4 chars each).

    Every kind of block appears once the budget allows (~250 tokens), so renderers
    meet headings, emphasis, nested and numbered lists, tables and code fences.
    """
    rng = random.Random(seed)
    target = max(tokens, 1) * 4
    kinds = ["paragraph", "bullets", "python", "numbered", "table", "bash"]
    blocks = [f"# {rng.choice(_TITLES)}"]
    size = len(blocks[0])
    cycle: list[str] = []
    while size < target:
        if not cycle:
            cycle = kinds[:]
            rng.shuffle(cycle)
            cycle.insert(0, "heading")
        remaining = target - size
        if remaining < 120:
            # Top up with a sentence-sized paragraph rather than overshoot by a block.
            words: list[str] = []
            while len(" ".join(words)) < remaining - 3:
                words.append(rng.choice(_WORDS))
            block = " ".join(words).capitalize() + "."
        else:
            block = _block(cycle.pop(0), rng)
        blocks.append(block)
        size += len(block) + 2
    return "\n\n".join(blocks)


def thinking_sample(tokens: int, *, seed: int = 1) -> str:
    """Deterministic thinking of about ``tokens`` tokens (~4 chars each): short
    paragraphs of plain musing, the way reasoning models think before they answer."""
    rng = random.Random(seed)
    target = max(tokens, 1) * 4
    openers = ("Okay,", "Hmm,", "Wait,", "So", "Let me check:", "Then", "Maybe")
    paragraphs: list[str] = []
    size = 0
    while size < target:
        sentences = []
        for _ in range(rng.randint(1, 3)):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(5, 12))]
            sentences.append(f"{rng.choice(openers)} {' '.join(words)}.")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:target]


# --- command line -------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the default reply forever, printing the base URL on one line."""
    parser = argparse.ArgumentParser(description="Local fake OpenAI-compatible server.")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--text-file", type=Path, help="reply with this file's text")
    parser.add_argument("--chunk-chars", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between chunks")
    args = parser.parse_args(argv)
    text = args.text_file.read_text(encoding="utf-8") if args.text_file else None
    reply = Reply(text=text, chunk_chars=args.chunk_chars, delay=args.delay)
    server = FakeOpenAIServer(port=args.port, default_reply=reply).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
