"""The fake server's issue-11 misbehaviours, checked on the wire with a raw socket.

How a body ends is the whole point of several faults (a close-delimited body that
just stops, a chunked body that ends cleanly with no finish), so these tests read
the bytes themselves rather than trusting any HTTP client to describe them.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.support.fakeserver import WEB_APP_PAGE, FakeOpenAIServer, Reply

BODY = {"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv
        assert srv.errors == []


def exchange(server: FakeOpenAIServer, method: str, path: str, body: object = None) -> bytes:
    """Send one request on a fresh socket; everything the server wrote until it closed."""
    data = b"" if body is None else json.dumps(body).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def split(response: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status, headers, body


def events(body: bytes) -> list[str]:
    return [block for block in body.decode().split("\n\n") if block.strip()]


def test_close_delimited_body_has_no_framing_and_no_finish(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="partial answer", finish_reason=None, done=False, framing="close"))
    status, headers, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    assert status.endswith("200 OK")
    assert "transfer-encoding" not in headers and "content-length" not in headers
    blocks = events(body)
    assert all(block.startswith("data: {") for block in blocks)  # no chunk sizes, no [DONE]
    finishes = [json.loads(b[6:])["choices"][0]["finish_reason"] for b in blocks]
    assert finishes == [None] * len(finishes)
    assert "".join(json.loads(b[6:])["choices"][0]["delta"]["content"] for b in blocks) == (
        "partial answer"
    )


def test_chunked_body_ends_cleanly_without_a_finish(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="partial", finish_reason=None, done=False))
    _, headers, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    assert headers["transfer-encoding"] == "chunked"
    assert body.endswith(b"\r\n0\r\n\r\n")  # the terminating zero-length frame
    assert b'finish_reason":"' not in body and b"[DONE]" not in body


def test_llama_cpp_error_line(server: FakeOpenAIServer) -> None:
    error = {"code": 500, "message": "boom", "type": "server_error"}
    server.enqueue(Reply(text="so far", error_line=error))
    _, _, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    assert b'\r\nerror: {"error":{"code":500,"message":"boom","type":"server_error"}}\n\n' in body
    assert body.endswith(b"\r\n0\r\n\r\n")


def test_raw_bodies_and_labels(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(raw_body="<html><title>x</title></html>"))
    _, headers, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    assert (
        headers["content-type"].startswith("text/html") and body == b"<html><title>x</title></html>"
    )
    server.enqueue(Reply(text="hi", content_type="application/json"))
    _, headers, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    assert headers["content-type"] == "application/json" and b"data: {" in body


def test_tool_calls_list_content_and_choices(server: FakeOpenAIServer) -> None:
    server.enqueue(
        Reply(
            text="ab",
            chunk_chars=1,
            list_content=True,
            extra_choice="other",
            choice_index=0,
            tool_calls=("get_weather",),
            finish_reason="tool_calls",
        )
    )
    _, _, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    blocks = [b for b in events(body) if "data: {" in b]
    chunks = [json.loads(b.split("data: ", 1)[1]) for b in blocks]
    choices = [c for chunk in chunks for c in chunk["choices"]]
    assert {c["index"] for c in choices} == {0, 1}
    parts = [c["delta"]["content"] for c in choices if isinstance(c["delta"].get("content"), list)]
    assert parts[0] == [{"type": "text", "text": "a"}, {"type": "reference", "reference_ids": [1]}]
    calls = [c["delta"]["tool_calls"][0] for c in choices if "tool_calls" in c["delta"]]
    assert calls[0]["function"]["name"] == "get_weather"
    assert choices[-1]["finish_reason"] == "tool_calls"


def test_redirect_turns_the_post_into_a_405_get(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(redirect_to="/api/v1"))
    status, headers, _ = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    assert status.endswith("301 Moved Permanently")
    assert headers["location"] == f"http://127.0.0.1:{server.port}/api/v1/chat/completions"
    status, _, _ = split(exchange(server, "GET", "/api/v1/chat/completions"))
    assert status.endswith("405 Method Not Allowed")


@pytest.mark.parametrize(
    ("style", "status", "content_type", "body"),
    [
        ("openai", "404", "application/json", b"Invalid URL (POST /chat/completions)"),
        ("ollama", "404", "text/plain", b"404 page not found"),
        ("webapp", "200", "text/html; charset=utf-8", WEB_APP_PAGE.encode()),
    ],
)
def test_unknown_paths_answer_in_each_style(
    style: str, status: str, content_type: str, body: bytes
) -> None:
    with FakeOpenAIServer(not_found=style) as srv:
        line, headers, received = split(exchange(srv, "POST", "/chat/completions", BODY))
    assert f" {status} " in line
    assert headers["content-type"] == content_type
    assert body in received
