"""Visible retries with backoff, and recovering from a context-length error."""

from __future__ import annotations

import pytest

from chatbot import errors
from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.conversation.retry import RetryPolicy, RetryWait
from chatbot.conversation.session import ChatSession
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import RecordingRenderer, make_session


def retrying(
    server: FakeOpenAIServer, *, attempts: int = 3, **flags: object
) -> tuple[ChatSession, list[RetryWait]]:
    waits: list[RetryWait] = []
    session = make_session(
        server.base_url,
        retry_policy=RetryPolicy(attempts=attempts, max_wait=5, base=0.01),
        waiter=waits.append,
        **flags,
    )
    return session, waits


def test_rate_limit_is_retried_after_the_servers_retry_after(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(status=429, headers={"Retry-After": "2"}), Reply(text="finally"))
    session, waits = retrying(server)
    result = session.send("q", renderer=RecordingRenderer())
    assert result.reply.content == "finally"
    assert [(w.seconds, w.attempt, w.attempts) for w in waits] == [(2.0, 1, 3)]
    assert "rate limited" in waits[0].reason


def test_server_errors_back_off_then_give_up(server: FakeOpenAIServer) -> None:
    server.default_reply = Reply(status=503)
    session, waits = retrying(server, attempts=2)
    with pytest.raises(errors.ServerError, match="503"):
        session.send("q", renderer=RecordingRenderer())
    assert len(waits) == 2
    assert len(server.chat_requests) == 3
    assert [m.content for m in session.conversation.messages] == ["q"]


def test_a_retry_after_longer_than_the_limit_gives_up_at_once(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(status=429, headers={"Retry-After": "600"}))
    session, waits = retrying(server)
    with pytest.raises(errors.RateLimited, match=r"wait 10m .* longer than --max-wait"):
        session.send("q", renderer=RecordingRenderer())
    assert waits == []


def test_ctrl_c_during_the_countdown_cancels_and_keeps_the_question(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue(Reply(status=500))

    def impatient(wait: RetryWait) -> None:
        raise KeyboardInterrupt

    session = make_session(
        server.base_url, retry_policy=RetryPolicy(attempts=3, max_wait=5), waiter=impatient
    )
    with pytest.raises(errors.ServerError, match="retry cancelled"):
        session.send("q", renderer=RecordingRenderer())
    assert len(server.chat_requests) == 1
    assert session.conversation.messages[-1].role is Role.USER


def test_nothing_is_retried_once_text_was_shown(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="partial answer here", drop_after_chars=7))
    session, waits = retrying(server)
    renderer = RecordingRenderer()
    with pytest.raises(errors.StreamDropped):
        session.send("q", renderer=renderer)
    assert waits == []
    assert renderer.text == "partial"
    assert session.conversation.messages[-1].status is ReplyStatus.FAILED


def test_auth_errors_are_not_retried(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(status=401))
    session, waits = retrying(server)
    with pytest.raises(errors.AuthenticationFailed):
        session.send("q", renderer=RecordingRenderer())
    assert waits == [] and len(server.chat_requests) == 1


def test_context_length_error_trims_harder_and_retries_once(server: FakeOpenAIServer) -> None:
    session, _ = retrying(server, context_window=4000)
    for n in range(6):
        session.send(f"turn {n} " + "filler " * 60, renderer=RecordingRenderer())
    sent_before = len(server.chat_requests[-1].body["messages"])
    server.enqueue(Reply(status=400, context_length_error=True), Reply(text="ok now"))
    result = session.send("latest", renderer=RecordingRenderer())
    assert result.reply.content == "ok now"
    retried = server.chat_requests[-1].body["messages"]
    assert len(retried) < sent_before + 1
    assert retried[-1]["content"] == "latest"


def test_context_length_error_twice_is_explained(server: FakeOpenAIServer) -> None:
    session, _ = retrying(server)
    for n in range(4):
        session.send(f"turn {n} " + "filler " * 60, renderer=RecordingRenderer())
    server.default_reply = Reply(status=400, context_length_error=True)
    with pytest.raises(errors.ContextLengthExceeded, match="context"):
        session.send("hello", renderer=RecordingRenderer())
    assert len(server.chat_requests) == 4 + 2  # the refused request and one tighter retry


def test_context_length_error_with_nothing_left_to_trim_says_what_to_do(
    server: FakeOpenAIServer,
) -> None:
    server.default_reply = Reply(status=400, context_length_error=True)
    session, _ = retrying(server)
    with pytest.raises(errors.ContextLengthExceeded, match="--context-window"):
        session.send("hello", renderer=RecordingRenderer())
    assert len(server.chat_requests) == 1


def test_backoff_grows_with_jitter_and_stops() -> None:
    policy = RetryPolicy(attempts=3, max_wait=3, base=1, random=lambda: 1.0)
    assert [policy.delay(n, retry_after=None) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, None]
    low = RetryPolicy(attempts=3, max_wait=60, base=1, random=lambda: 0.0)
    assert low.delay(3, retry_after=None) == 2.0
    assert policy.delay(1, retry_after=0.5) == 0.5
