"""A conversation against the local SSE server, through the real openai SDK."""

from __future__ import annotations

import pytest

from chatbot import errors
from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.settings.personas import load_personas
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import TEST_KEY, RecordingRenderer, make_session


def test_reply_streams_into_the_renderer_and_the_history(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="Hello there, friend.", chunk_chars=3))
    session = make_session(server.base_url)
    renderer = RecordingRenderer()
    result = session.send("hi", renderer=renderer)
    assert renderer.text == "Hello there, friend."
    assert len(renderer.chunks) > 1  # it really streamed
    assert renderer.finished == 1
    assert result.reply.content == "Hello there, friend."
    assert result.reply.status is ReplyStatus.COMPLETE
    assert [m.role for m in session.conversation.messages] == [Role.USER, Role.ASSISTANT]


def test_persona_system_prompt_comes_first_and_history_follows(
    server: FakeOpenAIServer,
) -> None:
    persona = load_personas().get("it-support")
    session = make_session(server.base_url, persona=persona)
    session.send("first", renderer=RecordingRenderer())
    session.send("second", renderer=RecordingRenderer())
    body = server.chat_requests[-1].body
    assert body["messages"][0] == {"role": "system", "content": persona.system}
    assert [m["content"] for m in body["messages"][1:]] == ["first", "You said: first", "second"]
    assert body["temperature"] == persona.temperature
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert server.chat_requests[-1].headers["authorization"] == f"Bearer {TEST_KEY}"


def test_flags_beat_the_persona(server: FakeOpenAIServer) -> None:
    persona = load_personas().get("casual-friend")
    session = make_session(server.base_url, persona=persona, temperature=0.1, model="m1")
    session.send("hi", renderer=RecordingRenderer())
    body = server.chat_requests[-1].body
    assert body["temperature"] == 0.1
    assert body["model"] == "m1"


def test_switching_persona_keeps_history_and_changes_parameters(
    server: FakeOpenAIServer,
) -> None:
    book = load_personas()
    session = make_session(server.base_url, persona=book.get("default"))
    session.send("remember 42", renderer=RecordingRenderer())
    session.switch_persona(book.get("japanese-teacher"))
    session.send("what number?", renderer=RecordingRenderer())
    body = server.chat_requests[-1].body
    assert body["messages"][0]["content"] == book.get("japanese-teacher").system
    assert body["messages"][1]["content"] == "remember 42"
    assert body["temperature"] == book.get("japanese-teacher").temperature


def test_usage_from_the_server_calibrates_the_count(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="ok", prompt_tokens=500, completion_tokens=7))
    session = make_session(server.base_url)
    result = session.send("hello", renderer=RecordingRenderer())
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (500, 7)
    assert session.usage.last_prompt_exact
    assert session.usage.prompt_tokens == 500
    assert session.counter.factor > 1.5  # 500 reported for a tiny request


def test_ctrl_c_mid_reply_keeps_the_partial_reply_marked(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="word " * 400, chunk_chars=5, delay=0.002))
    session = make_session(server.base_url)
    renderer = RecordingRenderer(interrupt_after=3)
    result = session.send("talk a lot", renderer=renderer)
    assert result.reply.status is ReplyStatus.INTERRUPTED
    assert result.reply.content == renderer.text
    assert 0 < len(result.reply.content) < len("word " * 400)
    assert renderer.finished == 1
    assert session.conversation.messages[-1] is result.reply
    # The chat goes on afterwards.
    session.send("next", renderer=RecordingRenderer())
    assert session.conversation.messages[-1].content == "You said: next"


def test_length_and_content_filter_finish_reasons(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="cut he", finish_reason="length"))
    server.enqueue(Reply(text="", finish_reason="content_filter"))
    session = make_session(server.base_url)
    assert session.send("a", renderer=RecordingRenderer()).reply.status is ReplyStatus.LENGTH
    assert session.send("b", renderer=RecordingRenderer()).reply.status is ReplyStatus.FILTERED


def test_retry_replaces_the_last_reply(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="first answer"), Reply(text="second answer"))
    session = make_session(server.base_url)
    session.send("q", renderer=RecordingRenderer())
    session.retry(renderer=RecordingRenderer())
    assert [m.content for m in session.conversation.messages] == ["q", "second answer"]
    assert [m["content"] for m in server.chat_requests[-1].body["messages"][1:]] == ["q"]


def test_undo_drops_the_last_exchange(server: FakeOpenAIServer) -> None:
    session = make_session(server.base_url)
    session.send("one", renderer=RecordingRenderer())
    session.send("two", renderer=RecordingRenderer())
    assert len(session.undo()) == 2
    assert [m.content for m in session.conversation.messages] == ["one", "You said: one"]


def test_a_failed_request_keeps_the_question_for_retry(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(status=500))
    session = make_session(server.base_url)
    with pytest.raises(errors.ServerError):
        session.send("important question", renderer=RecordingRenderer())
    assert [m.content for m in session.conversation.messages] == ["important question"]
    session.retry(renderer=RecordingRenderer())
    assert session.conversation.messages[-1].content == "You said: important question"


def test_a_dropped_stream_keeps_the_partial_reply_as_failed(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="a long answer that will break", drop_after_chars=10))
    session = make_session(server.base_url)
    with pytest.raises(errors.StreamDropped):
        session.send("q", renderer=RecordingRenderer())
    reply = session.conversation.messages[-1]
    assert reply.role is Role.ASSISTANT
    assert reply.status is ReplyStatus.FAILED
    assert reply.content == "a long ans"


def test_message_too_large_sends_nothing_and_keeps_no_trace(server: FakeOpenAIServer) -> None:
    session = make_session(server.base_url, context_window=512)
    with pytest.raises(errors.MessageTooLarge):
        session.send("word " * 2000, renderer=RecordingRenderer())
    assert server.chat_requests == []
    assert session.conversation.messages == []


def test_long_conversation_drops_old_turns_and_says_so_once(server: FakeOpenAIServer) -> None:
    session = make_session(server.base_url, context_window=600, max_tokens=100)
    firsts = []
    for n in range(12):
        result = session.send(f"message {n} " + "padding " * 30, renderer=RecordingRenderer())
        firsts.append(result.first_drop)
    assert firsts.count(True) == 1
    assert session.dropped_turns > 0
    sent = server.chat_requests[-1].body["messages"]
    assert sent[0]["role"] == "system"
    assert sent[1]["role"] == "user"
    assert sent[-1]["content"].startswith("message 11")


def test_a_server_that_rejects_stream_options_still_works(server: FakeOpenAIServer) -> None:
    server.default_reply = Reply(reject_stream_options=True, text="fine")
    session = make_session(server.base_url)
    assert session.send("a", renderer=RecordingRenderer()).reply.content == "fine"
    session.send("b", renderer=RecordingRenderer())
    # One rejected request, then every request goes without stream_options.
    assert ["stream_options" in r.body for r in server.chat_requests] == [True, False, False]
    assert session.usage.last_prompt_exact is False  # estimated, marked as such


def test_a_server_that_never_streams_still_answers(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(ignore_stream=True, text="whole answer at once", prompt_tokens=77))
    session = make_session(server.base_url)
    renderer = RecordingRenderer()
    result = session.send("q", renderer=renderer)
    assert renderer.text == "whole answer at once"
    assert result.usage is not None and result.usage.prompt_tokens == 77


def test_unknown_model_lists_what_the_server_offers(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(status=404))
    session = make_session(server.base_url, model="no-such-model")
    with pytest.raises(errors.ModelNotFound) as caught:
        session.send("hi", renderer=RecordingRenderer())
    assert "'no-such-model' not found" in str(caught.value)
    assert "available: fake-model, gpt-4o-mini" in str(caught.value)


def test_odd_input_is_made_sendable_without_losing_text(server: FakeOpenAIServer) -> None:
    session = make_session(server.base_url)
    text = "a\x00b \ud800 שלום \u200b\u202e end"
    session.send(text, renderer=RecordingRenderer())
    sent = server.chat_requests[-1].body["messages"][-1]["content"]
    assert sent == "ab \ufffd שלום \u200b\u202e end"


def test_retry_cannot_reach_into_summarised_turns(server: FakeOpenAIServer) -> None:
    from chatbot.errors import ChatbotError

    session = make_session(server.base_url)
    for n in range(3):
        session.send(f"q{n}", renderer=RecordingRenderer())
    session.compact(keep_turns=1)
    session.undo()
    with pytest.raises(ChatbotError, match="nothing to retry"):
        session.retry(renderer=RecordingRenderer())
    assert session.conversation.summaries  # the summary is untouched


def test_max_tokens_never_exceeds_the_room_kept_for_the_reply(server: FakeOpenAIServer) -> None:
    session = make_session(server.base_url, context_window=1024, max_tokens=900)
    session.send("hi", renderer=RecordingRenderer())
    assert server.chat_requests[-1].body["max_tokens"] == session.budget.reserved_for_reply == 512


def test_system_command_keeps_the_personas_parameters(server: FakeOpenAIServer) -> None:
    book = load_personas()
    session = make_session(server.base_url, persona=book.get("japanese-teacher"))
    session.switch_persona(book.ad_hoc("Be brief.", base=session.persona))
    session.send("hi", renderer=RecordingRenderer())
    body = server.chat_requests[-1].body
    assert body["messages"][0]["content"] == "Be brief."
    assert body["temperature"] == book.get("japanese-teacher").temperature
