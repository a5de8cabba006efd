"""The fake server, driven by the real openai SDK, behaves like the servers it imitates."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from markdown_it import MarkdownIt
from openai import OpenAI
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from tests.support.fakeserver import FakeOpenAIServer, Reply, markdown_sample

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hello there"},
]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv
        assert srv.errors == []


@pytest.fixture(scope="module")
def http_client() -> Iterator[httpx2.Client]:
    # Building a client's SSL context costs ~0.1 s; share one across the module.
    with httpx2.Client() as shared:
        yield shared


@pytest.fixture
def client(server: FakeOpenAIServer, http_client: httpx2.Client) -> OpenAI:
    return OpenAI(
        base_url=server.base_url, api_key="test-key", max_retries=0, http_client=http_client
    )


def stream_chunks(client: OpenAI, **kwargs: Any) -> list[ChatCompletionChunk]:
    with client.chat.completions.create(
        model="fake-model", messages=MESSAGES, stream=True, **kwargs
    ) as stream:
        return list(stream)


def content_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_stream_reassembles_text_exactly(server: FakeOpenAIServer, client: OpenAI) -> None:
    text = "Héllo, wörld! 🌍\n\n```python\nprint('hi')\n```\n"
    server.enqueue(Reply(text=text, chunk_chars=3))
    chunks = stream_chunks(client)
    assert content_of(chunks) == text
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1
    assert chunks[0].choices[0].delta.role == "assistant"
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop"
    assert not last.delta.content
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_chunk_chars_zero_sends_one_delta(server: FakeOpenAIServer, client: OpenAI) -> None:
    text = "one delta for all of this text"
    server.enqueue(Reply(text=text, chunk_chars=0))
    pieces = [c.choices[0].delta.content for c in stream_chunks(client)]
    assert [p for p in pieces if p] == [text]


def test_default_reply_echoes_last_user_message(server: FakeOpenAIServer, client: OpenAI) -> None:
    assert content_of(stream_chunks(client)) == "You said: hello there"


def test_usage_chunk_only_when_asked(server: FakeOpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(text="abc", completion_tokens=7), Reply(text="abc"))
    chunks = stream_chunks(client, stream_options={"include_usage": True})
    assert content_of(chunks) == "abc"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == 7
    assert usage.total_tokens == usage.prompt_tokens + 7
    assert all(c.usage is None for c in chunks[:-1])

    plain = stream_chunks(client)
    assert all(c.choices and c.usage is None for c in plain)


def test_usage_estimate_grows_with_the_prompt(server: FakeOpenAIServer, client: OpenAI) -> None:
    def prompt_tokens(content: str) -> int:
        reply = client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": content}]
        )
        assert reply.usage is not None
        return reply.usage.prompt_tokens

    short, long = prompt_tokens("x" * 40), prompt_tokens("x" * 4000)
    # About 4 characters a token, plus a few per message.
    assert 10 <= short <= 20
    assert 1000 <= long <= 1010


def test_non_stream_reply_has_message_and_usage(server: FakeOpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(text="Plain answer.", finish_reason="length", prompt_tokens=42))
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert reply.object == "chat.completion"
    assert reply.model == "gpt-4o-mini"
    assert reply.choices[0].message.content == "Plain answer."
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == 42
    assert reply.usage.completion_tokens > 0


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
    ],
)
def test_error_statuses_map_to_sdk_exceptions(
    server: FakeOpenAIServer, client: OpenAI, status: int, error_type: type[Exception]
) -> None:
    server.enqueue(Reply(status=status, headers={"Retry-After": "3"}))
    with pytest.raises(error_type) as caught:
        stream_chunks(client)
    err = caught.value
    assert isinstance(err, openai.APIStatusError)
    assert err.status_code == status
    assert err.response.headers["retry-after"] == "3"
    assert isinstance(err.body, dict) and err.body["message"]


def test_missing_model_error_names_the_model(server: FakeOpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(status=404))
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert caught.value.code == "model_not_found"
    assert "no-such-model" in caught.value.message


def test_context_length_error(server: FakeOpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(status=400, context_length_error=True))
    with pytest.raises(openai.BadRequestError) as caught:
        stream_chunks(client)
    assert caught.value.code == "context_length_exceeded"


def test_custom_error_body_is_sent_as_is(server: FakeOpenAIServer, client: OpenAI) -> None:
    body = {"error": {"message": "You exceeded your quota.", "code": "insufficient_quota"}}
    server.enqueue(Reply(status=429, error_body=body))
    with pytest.raises(openai.RateLimitError) as caught:
        stream_chunks(client)
    assert caught.value.code == "insufficient_quota"


def test_dropped_stream_raises_after_partial_content(
    server: FakeOpenAIServer, client: OpenAI
) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    server.enqueue(Reply(text=text, chunk_chars=5, drop_after_chars=12))
    received: list[str] = []
    with (
        pytest.raises(openai.APIConnectionError),
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream,
    ):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == text[:12]


def test_sse_error_event_raises_api_error(server: FakeOpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(text="partial", sse_error={"message": "overloaded", "type": "x"}))
    with pytest.raises(openai.APIError) as caught:
        stream_chunks(client)
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.message == "overloaded"


def test_malformed_line_escapes_as_json_error(server: FakeOpenAIServer, client: OpenAI) -> None:
    # A surprise worth pinning: the SDK does not wrap this in an APIError.
    server.enqueue(Reply(text="some text", malformed_line=True))
    with pytest.raises(json.JSONDecodeError):
        stream_chunks(client)


def test_reject_stream_options(server: FakeOpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(text="ok", reject_stream_options=True))
    with pytest.raises(openai.BadRequestError) as caught:
        stream_chunks(client, stream_options={"include_usage": True})
    assert "stream_options" in caught.value.message

    server.enqueue(Reply(text="ok", reject_stream_options=True))
    chunks = stream_chunks(client)
    assert content_of(chunks) == "ok"
    assert all(c.choices for c in chunks)


def test_ignore_stream_yields_nothing(server: FakeOpenAIServer, client: OpenAI) -> None:
    # The SDK finds no SSE events in a JSON body: an empty stream, and no error.
    server.enqueue(Reply(text="ignored", ignore_stream=True))
    assert stream_chunks(client) == []


def test_hang_times_out_and_server_recovers(server: FakeOpenAIServer) -> None:
    impatient = OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=0.3)
    server.enqueue(Reply(hang=True))
    with pytest.raises(openai.APITimeoutError):
        stream_chunks(impatient)
    assert content_of(stream_chunks(impatient)) == "You said: hello there"


def test_close_ends_a_hanging_request_quickly() -> None:
    srv = FakeOpenAIServer(default_reply=Reply(hang=True)).start()
    patient = OpenAI(base_url=srv.base_url, api_key="k", max_retries=0, timeout=30)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            stream_chunks(patient)
        except openai.APIError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    while not srv.requests:
        time.sleep(0.01)
    started = time.monotonic()
    srv.close()
    worker.join(timeout=2)
    assert time.monotonic() - started < 1
    assert len(outcome) == 1


def test_requests_are_recorded(server: FakeOpenAIServer, client: OpenAI) -> None:
    stream_chunks(client, temperature=0.5)
    client.models.list()
    chat, models = server.requests
    assert (chat.method, chat.path) == ("POST", "/v1/chat/completions")
    assert chat.body["model"] == "fake-model"
    assert chat.body["messages"] == MESSAGES
    assert chat.body["stream"] is True
    assert chat.body["temperature"] == 0.5
    assert chat.headers["authorization"] == "Bearer test-key"
    assert "test-key" not in repr(chat)
    assert (models.method, models.path, models.body) == ("GET", "/v1/models", None)
    assert server.chat_requests == [chat]


def test_queue_is_fifo_then_default(server: FakeOpenAIServer, client: OpenAI) -> None:
    server.default_reply = Reply(text="default")
    server.enqueue(Reply(text="first"), Reply(text="second"))
    got = [content_of(stream_chunks(client)) for _ in range(3)]
    assert got == ["first", "second", "default"]


def test_responder_decides_and_can_defer(server: FakeOpenAIServer, client: OpenAI) -> None:
    def responder(body: dict[str, Any]) -> Reply | None:
        if "summar" in json.dumps(body["messages"]):
            return Reply(text="A summary.")
        return None

    server.responder = responder
    server.enqueue(Reply(text="queued"))
    summary_request: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Please summarize this."}
    ]
    summary = client.chat.completions.create(model="m", messages=summary_request)
    assert summary.choices[0].message.content == "A summary."
    assert content_of(stream_chunks(client)) == "queued"


def test_models_endpoint_and_unknown_paths(server: FakeOpenAIServer, client: OpenAI) -> None:
    server.models = ["alpha", "beta"]
    assert [m.id for m in client.models.list()] == ["alpha", "beta"]
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server.base_url}/nope", timeout=2)
    assert caught.value.code == 404
    assert "error" in json.loads(caught.value.read())


def test_provider_quirks_pass_through(server: FakeOpenAIServer, client: OpenAI) -> None:
    text = "abcdefghijklmnopqrstuvwxyz"
    server.enqueue(
        Reply(
            text=text,
            reasoning="Let me think.",
            empty_choices_first=True,
            none_content_chunks=True,
        )
    )
    chunks = stream_chunks(client)
    assert chunks[0].choices == []
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    thoughts = "".join((d.model_extra or {}).get("reasoning_content", "") for d in deltas)
    assert thoughts == "Let me think."
    assert any(d.content is None and d.role is None for d in deltas)
    assert any(d.content is None and d.role == "assistant" for d in deltas[1:])
    assert content_of(chunks) == text


def test_chunks_arrive_as_they_are_written(server: FakeOpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(text="abcdefgh", chunk_chars=4, delay=0.25))
    arrivals: list[float] = []
    with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.monotonic())
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 0.2


def test_first_byte_delay_holds_the_response(server: FakeOpenAIServer, client: OpenAI) -> None:
    server.enqueue(Reply(text="late", first_byte_delay=0.3))
    started = time.monotonic()
    assert content_of(stream_chunks(client)) == "late"
    assert time.monotonic() - started >= 0.3


def test_client_leaving_mid_stream_is_quiet(
    server: FakeOpenAIServer, client: OpenAI, capfd: pytest.CaptureFixture[str]
) -> None:
    server.enqueue(Reply(text="x" * 200, chunk_chars=2, delay=0.01))
    with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
        next(stream)
        next(stream)
    time.sleep(0.1)  # let the server hit the closed socket
    assert content_of(stream_chunks(client)) == "You said: hello there"
    assert capfd.readouterr().err == ""


def test_cli_serves_the_text_file(tmp_path: Path) -> None:
    text_file = tmp_path / "reply.md"
    text_file.write_text("# From a file\n\nHello.", encoding="utf-8")
    script = Path(__file__).parents[1] / "support" / "fakeserver.py"
    cmd = [sys.executable, str(script), "--port", "0", "--text-file", str(text_file)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            base_url = proc.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            cli_client = OpenAI(base_url=base_url, api_key="k", max_retries=0, timeout=5)
            assert content_of(stream_chunks(cli_client)) == "# From a file\n\nHello."
        finally:
            proc.terminate()
            proc.wait(timeout=5)


@pytest.mark.parametrize("tokens", [30, 300, 2000])
def test_markdown_sample_is_about_the_requested_size(tokens: int) -> None:
    text = markdown_sample(tokens)
    assert 0.8 <= len(text) / 4 / tokens <= 1.3
    assert markdown_sample(tokens) == text
    assert markdown_sample(tokens, seed=1) != text


def test_markdown_sample_has_every_kind_of_block() -> None:
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown_sample(400, seed=3))
    types = {t.type for t in tokens}
    for wanted in ("heading_open", "bullet_list_open", "ordered_list_open", "table_open"):
        assert wanted in types
    inline = {c.type for t in tokens for c in t.children or []}
    assert {"strong_open", "code_inline"} <= inline
    fences = {t.info for t in tokens if t.type == "fence"}
    assert fences == {"python", "bash"}
    depths = {t.level for t in tokens if t.type == "bullet_list_open"}
    assert len(depths) > 1, "some bullet list should be nested"
