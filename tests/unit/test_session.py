"""The turn loop on a scripted backend: what the user sees and what is kept, in-process."""

from __future__ import annotations

import pytest

from chatbot.api.events import ReasoningDelta, TextDelta
from chatbot.api.scripted import ScriptedBackend, ScriptedReply, reply
from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.conversation.retry import RetryPolicy, RetryWait
from chatbot.errors import (
    ContextLengthExceeded,
    MessageTooLarge,
    RateLimited,
    ServerError,
    StreamDropped,
)
from chatbot.settings.personas import load_personas
from tests.support.helpers import RecordingRenderer, scripted_session


def test_reply_streams_into_the_renderer_and_the_history() -> None:
    backend = ScriptedBackend([reply("Hello there, friend.", chunks=4)])
    session = scripted_session(backend)
    renderer = RecordingRenderer()
    result = session.send("hi", renderer=renderer)
    assert renderer.text == "Hello there, friend."
    assert len(renderer.chunks) == 4
    assert renderer.finished == 1
    assert result.reply.status is ReplyStatus.COMPLETE
    assert [m.role for m in session.conversation.messages] == [Role.USER, Role.ASSISTANT]


def test_the_request_is_the_persona_then_the_history() -> None:
    persona = load_personas().get("it-support")
    backend = ScriptedBackend()
    session = scripted_session(backend, persona=persona)
    session.send("first", renderer=RecordingRenderer())
    session.send("second", renderer=RecordingRenderer())
    request = backend.requests[-1]
    assert request.messages[0] == {"role": "system", "content": persona.system}
    assert [m["content"] for m in request.messages[1:]] == ["first", "You said: first", "second"]
    assert request.temperature == persona.temperature


def test_thinking_text_is_never_part_of_the_answer() -> None:
    scripted = ScriptedReply(events=(ReasoningDelta("let me think"), TextDelta("42")))
    backend = ScriptedBackend([ScriptedReply(events=(*scripted.events, *reply("").events))])
    session = scripted_session(backend)
    renderer = RecordingRenderer()
    result = session.send("q", renderer=renderer)
    assert renderer.text == "42" and result.reply.content == "42"


def test_a_dropped_stream_keeps_what_arrived_and_leaves_the_error_untouched() -> None:
    dropped = StreamDropped("the connection dropped mid-reply")
    session = scripted_session(ScriptedBackend([reply("half an ans", error=dropped)]))
    with pytest.raises(StreamDropped) as raised:
        session.send("q", renderer=RecordingRenderer())
    assert raised.value.partial_reply_kept
    # The error the backend raised is not changed in place: a copy carries the mark.
    assert raised.value is not dropped and not dropped.partial_reply_kept
    kept = session.conversation.messages[-1]
    assert (kept.role, kept.status, kept.content) == (
        Role.ASSISTANT,
        ReplyStatus.FAILED,
        "half an ans",
    )


def test_a_rate_limit_waits_as_the_server_asks_then_answers() -> None:
    waits: list[RetryWait] = []
    backend = ScriptedBackend([RateLimited("slow down", retry_after=0.5), reply("finally")])
    session = scripted_session(
        backend, retry_policy=RetryPolicy(attempts=2, max_wait=10), waiter=waits.append
    )
    result = session.send("q", renderer=RecordingRenderer())
    assert result.reply.content == "finally"
    assert [w.seconds for w in waits] == [0.5]
    assert len(backend.requests) == 2


def test_no_retry_once_text_was_shown() -> None:
    waits: list[RetryWait] = []
    backend = ScriptedBackend([reply("partial", error=ServerError("boom"))])
    session = scripted_session(
        backend, retry_policy=RetryPolicy(attempts=3, max_wait=10), waiter=waits.append
    )
    with pytest.raises(ServerError):
        session.send("q", renderer=RecordingRenderer())
    assert waits == [] and len(backend.requests) == 1


def test_a_context_length_error_trims_harder_once() -> None:
    backend = ScriptedBackend()
    session = scripted_session(backend, context_window=4000)
    for n in range(6):
        session.send(f"turn {n} " + "words " * 100, renderer=RecordingRenderer())
    backend.add(ContextLengthExceeded("too long"), reply("fits now"))
    result = session.send("last", renderer=RecordingRenderer())
    assert result.reply.content == "fits now"
    first, second = backend.requests[-2:]
    assert len(second.messages) < len(first.messages)
    assert second.messages[-1]["content"] == "last"


def test_retry_and_undo() -> None:
    backend = ScriptedBackend([reply("first answer"), reply("second answer")])
    session = scripted_session(backend)
    session.send("q", renderer=RecordingRenderer())
    session.retry(renderer=RecordingRenderer())
    assert [m.content for m in session.conversation.messages] == ["q", "second answer"]
    assert [m["content"] for m in backend.requests[-1].messages[1:]] == ["q"]
    assert len(session.undo()) == 2
    assert session.conversation.messages == []


def test_a_message_too_large_sends_nothing() -> None:
    backend = ScriptedBackend()
    session = scripted_session(backend, context_window=512)
    with pytest.raises(MessageTooLarge):
        session.send("word " * 2000, renderer=RecordingRenderer())
    assert backend.requests == [] and session.conversation.messages == []


def test_context_fill_is_an_estimate_until_the_server_reports() -> None:
    backend = ScriptedBackend([reply("ok", usage=(321, 2))])
    session = scripted_session(backend)
    before = session.context_fill()
    assert (before.exact, before.measured, before.mark) == (False, False, "~")
    assert before.tokens > 0
    session.send("hello", renderer=RecordingRenderer())
    after = session.context_fill()
    assert (after.tokens, after.exact, after.measured, after.mark) == (321, True, True, "")
    assert after.fraction == pytest.approx(321 / after.window)


def test_adopting_a_stored_conversation_can_bring_its_model() -> None:
    session = scripted_session()
    other = scripted_session()
    other.send("hi", renderer=RecordingRenderer())
    session.adopt(other.conversation, persona=other.persona, model="stored-model")
    assert session.params.model == "stored-model"
    assert [m.content for m in session.conversation.messages] == ["hi", "You said: hi"]
