"""The fake server's issue-23 shapes, checked on the wire with a raw socket: each fault
row must test what a real server sends, not what our client happens to accept."""

from __future__ import annotations

import email.utils
import gzip
import json
import zlib
from collections.abc import Iterator

import pytest

from tests.integration.test_fakeserver_misbehaviour import BODY, exchange, split
from tests.support.fakeserver import FakeOpenAIServer, Reply


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv
        assert srv.errors == []


def dechunked(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            break
        out += rest[:length]
        body = rest[length + 2 :]
    return out


def chunks(body: bytes) -> list[dict[str, object]]:
    text = dechunked(body).decode()
    return [json.loads(block[6:]) for block in text.split("\n\n") if block.startswith("data: {")]


def choices(body: bytes) -> list[dict[str, object]]:
    found = []
    for chunk in chunks(body):
        found += chunk["choices"]  # type: ignore[arg-type]
    return found


def test_message_chunks_carry_the_text_in_message_with_an_empty_delta(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue(Reply(text="abcdefghij", chunk_chars=5, message_chunks=True))
    _, _, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    texts = [c for c in choices(body) if "message" in c]
    assert [c["message"]["content"] for c in texts] == ["abcde", "fghij"]  # type: ignore[index]
    assert all(c["delta"] == {} for c in texts)


def test_text_index_puts_the_text_and_finish_at_another_index(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="hello", text_index=1))
    _, _, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    found = choices(body)
    assert found[0]["index"] == 0 and found[0]["delta"]["role"] == "assistant"  # type: ignore[index]
    assert {c["index"] for c in found[1:]} == {1}
    assert found[-1]["finish_reason"] == "stop"


def test_a_refusal_streams_in_its_own_field_with_no_content(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="", refusal="No way."))
    _, _, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    deltas = [c["delta"] for c in choices(body) if c["delta"].get("refusal")]  # type: ignore[union-attr]
    assert "".join(d["refusal"] for d in deltas) == "No way."  # type: ignore[index]
    assert all(d["content"] is None for d in deltas)  # type: ignore[index]


def test_bad_utf8_is_raw_bytes_inside_the_json_string(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="hello", bad_utf8=True))
    _, _, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    assert b'"content":"\xff\xfehello' in dechunked(body)


def test_ndjson_is_one_json_object_a_line_without_data(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="hello", ndjson=True))
    _, headers, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    assert headers["content-type"] == "application/x-ndjson"
    lines = dechunked(body).decode().splitlines()
    assert lines and not any(line.startswith("data") for line in lines)
    assert all(json.loads(line)["object"] == "chat.completion.chunk" for line in lines)


@pytest.mark.parametrize("encoding", ["gzip", "gzip-label", "gzip-broken"])
def test_gzip_labels_are_true_or_lies_as_asked(server: FakeOpenAIServer, encoding: str) -> None:
    server.enqueue(Reply(text="hello", encoding=encoding))
    _, headers, body = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    assert headers["content-encoding"] == "gzip"
    raw = dechunked(body)
    if encoding == "gzip":
        assert b"data: " in gzip.decompress(raw) and b"[DONE]" in gzip.decompress(raw)
    elif encoding == "gzip-label":
        assert raw.startswith(b"data: ")
    else:
        assert raw[:2] == b"\x1f\x8b"
        with pytest.raises(zlib.error):
            zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw)


def test_hang_up_reads_the_request_and_sends_nothing(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(hang_up=True))
    assert exchange(server, "POST", "/v1/chat/completions", BODY) == b""
    assert len(server.chat_requests) == 1


def test_retry_after_as_a_date_is_measured_from_the_responses_own_date(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue(Reply(status=429, retry_after_date=2.0))
    status, headers, _ = split(exchange(server, "POST", "/v1/chat/completions", BODY))
    assert status.endswith("429 Too Many Requests")
    sent = email.utils.parsedate_to_datetime(headers["date"])
    later = email.utils.parsedate_to_datetime(headers["retry-after"])
    assert (later - sent).total_seconds() == 2


def test_strict_roles_refuse_two_user_messages_in_a_row() -> None:
    with FakeOpenAIServer(strict_roles=True) as strict:
        two = {
            **BODY,
            "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
        }
        status, _, body = split(exchange(strict, "POST", "/v1/chat/completions", two))
        assert status.endswith("400 Bad Request")
        assert b"Conversation roles must alternate" in body
        status, _, _ = split(exchange(strict, "POST", "/v1/chat/completions", BODY))
        assert status.endswith("200 OK")
