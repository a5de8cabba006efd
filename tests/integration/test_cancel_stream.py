"""Stop from another thread: the web's Stop closes the HTTP response at once.

The reader may be blocked on a silent server (a model thinking before it says
anything): the abort must wake it, the server must see the client leave, and the
session must keep what arrived exactly as after Ctrl-C.
"""

from __future__ import annotations

import threading
import time

import pytest

from chatbot.api.cancel import Cancellation, StreamCancelled
from chatbot.api.client import ChatClient
from chatbot.api.events import ChatRequest, ReasoningDelta, TextDelta
from chatbot.conversation.messages import ReplyStatus
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import TEST_KEY, RecordingRenderer, make_session


def _cancel_after(cancel: Cancellation, seconds: float) -> None:
    threading.Timer(seconds, cancel.cancel).start()


def test_cancel_wakes_a_read_blocked_on_a_silent_server(server: FakeOpenAIServer) -> None:
    # Headers at once, then 30 s of silence: only the abort can end the read.
    server.enqueue(Reply(text="answer", reasoning="ab", chunk_chars=1, delay=30.0))
    client = ChatClient(api_key=TEST_KEY, base_url=server.base_url, timeout=60, max_retries=0)
    cancel = Cancellation()
    request = ChatRequest(
        model="fake-model", messages=[{"role": "user", "content": "hi"}], cancel=cancel
    )
    started = time.monotonic()
    _cancel_after(cancel, 1.0)
    events = []
    with pytest.raises(StreamCancelled):
        for event in client.stream(request):
            events.append(event)
    assert time.monotonic() - started < 10  # not the 30 s the server would have taken
    assert not any(isinstance(e, TextDelta) for e in events)
    client.close()


def test_stopped_session_keeps_its_thinking_and_the_server_stops(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue(Reply(text="never shown", reasoning="thinking hard " * 20, delay=0.05))
    session = make_session(server.base_url)
    cancel = Cancellation()
    thoughts: list[str] = []

    class Thinking(RecordingRenderer):
        def think(self, text: str) -> None:
            thoughts.append(text)
            if len(thoughts) == 3:
                cancel.cancel()  # as the web's Stop does, from the request's thread

    result = session.send("why?", renderer=Thinking(), cancel=cancel)
    assert result.reply.status is ReplyStatus.INTERRUPTED
    assert result.reply.thinking.startswith("thinking hard")
    assert session.conversation.messages[-1] is result.reply
    deadline = time.monotonic() + 5
    while server.abandoned_streams < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.abandoned_streams == 1
    # The session is usable again, with no leftover switch.
    assert session.send("again", renderer=RecordingRenderer()).reply.status is ReplyStatus.COMPLETE


def test_cancel_before_the_request_sends_nothing(server: FakeOpenAIServer) -> None:
    session = make_session(server.base_url)
    cancel = Cancellation()
    cancel.cancel()
    result = session.send("hi", renderer=RecordingRenderer(), cancel=cancel)
    assert result.reply.status is ReplyStatus.INTERRUPTED
    assert server.chat_requests == []


def test_registered_aborts_run_once_and_late_ones_at_once() -> None:
    cancel = Cancellation()
    calls: list[str] = []
    forget = cancel.on_cancel(lambda: calls.append("first"))
    cancel.on_cancel(lambda: calls.append("second"))
    forget()
    cancel.cancel()
    cancel.cancel()
    assert calls == ["second"]
    cancel.on_cancel(lambda: calls.append("late"))
    assert calls == ["second", "late"]
    assert cancel.wait(0) is True
    assert isinstance(StreamCancelled(), KeyboardInterrupt)


def test_scripted_backend_honours_the_switch() -> None:
    from chatbot.api.scripted import ScriptedBackend, reply

    backend = ScriptedBackend(script=[reply("one two three four", chunks=4)])
    cancel = Cancellation()
    request = ChatRequest(model="m", messages=[], cancel=cancel)
    seen = []
    with pytest.raises(StreamCancelled):
        for event in backend.stream(request):
            seen.append(event)
            cancel.cancel()
    assert len(seen) == 1
    assert not isinstance(seen[0], ReasoningDelta)
