"""Issue 11 in small pieces: reading bodies, the one finish→status mapping, its lines,
URL passwords, and the new statuses through export and import.

The same behaviours are checked end to end against the fake server in
``tests/integration/test_faults.py``; these pin the rules down one by one.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.api.body import NotChatBody, events_from_body
from chatbot.api.chunks import ToolCalls, content_text, events_from_chunks
from chatbot.api.events import (
    Finished,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallsRequested,
)
from chatbot.api.sse import SseEvent, iter_sse
from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.conversation.outcome import describe_outcome, reply_status
from chatbot.secrets import Redactor, url_secrets
from chatbot.store.database import Store
from chatbot.store.export import from_json, to_json, to_markdown
from chatbot.store.store_journal import conversation_from_store

# --- SSE -----------------------------------------------------------------------------

STREAM = (
    b": keep-alive\r\n\r\n"
    b'data: {"a":1}\r\n\r\n'
    b"event: ping\ndata: x\ndata: y\n\n"
    b'error: {"code":500,"message":"boom"}\n\n'
    b"data: \xc3\xa9t\xc3\xa9\r\r"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SseEvent('{"a":1}'),
    SseEvent("x\ny"),
    SseEvent('{"code":500,"message":"boom"}', error=True),
    SseEvent("été"),
    SseEvent("[DONE]"),
]


def test_sse_events_including_llama_cpp_error_lines() -> None:
    assert list(iter_sse([STREAM])) == EXPECTED


@given(cuts=st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_sse_events_do_not_depend_on_how_the_bytes_are_split(cuts: list[int]) -> None:
    bounds = sorted({0, len(STREAM), *cuts})
    pieces = [STREAM[a:b] for a, b in itertools.pairwise(bounds)]
    assert list(iter_sse(pieces)) == EXPECTED


def test_an_event_open_at_the_end_is_dispatched_but_a_torn_line_is_not() -> None:
    assert list(iter_sse([b"data: last\n"])) == [SseEvent("last")]
    assert list(iter_sse([b'data: {"a":1}\n\ndata: {"tor'])) == [SseEvent('{"a":1}')]


# --- bodies --------------------------------------------------------------------------


def chunk(delta: dict[str, object], finish: str | None = None, index: int = 0) -> bytes:
    choice = {"index": index, "delta": delta, "finish_reason": finish}
    return b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"


def run(*parts: bytes) -> list[StreamEvent]:
    return list(events_from_body(iter(parts)))


def test_an_sse_stream_is_read_whatever_it_is_labelled() -> None:
    events = run(chunk({"content": "Hel"}), chunk({"content": "lo"}, "stop"), b"data: [DONE]\n\n")
    assert events == [TextDelta("Hel"), TextDelta("lo"), Finished("stop")]


def test_an_empty_body_is_an_empty_reply() -> None:
    assert run(b"") == [Finished(None)]
    assert run(b"\n\n", b"") == [Finished(None)]


def test_a_web_page_is_named_with_its_title() -> None:
    with pytest.raises(NotChatBody) as caught:
        run(b"\xef\xbb\xbf  <!DOCTYPE html><html><head><title>Log &amp; in</title>", b"</head>")
    assert (caught.value.kind, caught.value.detail) == ("web_page", "Log & in")


@pytest.mark.parametrize(
    ("body", "kind", "detail"),
    [
        (b'{"error": {"message": "quota gone"}}', "json_error", "quota gone"),
        (b'{"error": "plain words"}', "json_error", "plain words"),
        (b'{"object": "list", "data": []}', "not_chat", "JSON that is not a chat completion"),
        (b"Service Unavailable\nretry later", "not_chat", "Service Unavailable"),
        (b'data: {"error": {"message": "mid"}}\n\n', "error_event", "mid"),
        (b'error: {"code": 500, "message": "kv full"}\n\n', "error_event", "kv full"),
        (b"event: error\ndata: not json at all\n\n", "error_event", "not json at all"),
    ],
)
def test_bodies_that_are_not_chat_replies_are_named(body: bytes, kind: str, detail: str) -> None:
    with pytest.raises(NotChatBody) as caught:
        run(body)
    assert caught.value.kind == kind
    assert caught.value.detail.startswith(detail)


def test_a_json_completion_is_read_in_one_piece() -> None:
    body = {
        "choices": [
            {"index": 1, "message": {"content": "other"}, "finish_reason": "stop"},
            {"index": 0, "message": {"content": [{"type": "text", "text": "mine"}]}},
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    raw = json.dumps(body).encode()
    events = run(raw[:10], raw[10:])
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("mine")]
    assert events[-1] == Finished(None)  # index 0 never said it finished


# --- chunks --------------------------------------------------------------------------


def test_list_content_keeps_only_text_parts() -> None:
    parts = [
        {"type": "text", "text": "a"},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "thinking", "thinking": [{"type": "text", "text": "hidden"}]},
        {"text": "b"},
        "junk",
    ]
    assert content_text(parts) == "ab"
    assert content_text(None) == "" and content_text(42) == ""


def test_the_choice_that_carries_the_reply_is_followed_whatever_its_index() -> None:
    both = {
        "choices": [
            {"index": 1, "delta": {"content": "B"}},
            {"index": 0, "delta": {"content": "A"}},
        ]
    }
    zero = {"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"}]}
    one = {"choices": [{"index": 1, "delta": {"content": "b"}, "finish_reason": "length"}]}
    # Two choices speak at once: index 0 is the answer.
    assert list(events_from_chunks([both, one, zero])) == [
        TextDelta("A"),
        TextDelta("a"),
        Finished("stop"),
    ]
    only = [{"choices": [{"index": 3, "delta": {"content": "C"}, "finish_reason": "stop"}]}]
    assert list(events_from_chunks(only)) == [TextDelta("C"), Finished("stop")]
    # The role at index 0, the text and the finish at index 1 (issue 23).
    role = {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}
    text = {"choices": [{"index": 1, "delta": {"content": "D"}, "finish_reason": "stop"}]}
    assert list(events_from_chunks([role, text])) == [TextDelta("D"), Finished("stop")]


def test_whole_messages_in_chunks_are_read_as_pieces_or_as_the_text_so_far() -> None:
    def chunk(text: str, finish: str | None = None) -> dict[str, object]:
        choice = {"index": 0, "delta": {}, "message": {"role": "assistant", "content": text}}
        return {"choices": [{**choice, "finish_reason": finish}]}

    pieces = [chunk("Hel"), chunk("lo"), chunk("", "stop")]
    so_far = [chunk("Hel"), chunk("Hello"), chunk("Hello", "stop")]
    for stream in (pieces, so_far):
        events = list(events_from_chunks(stream))
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello"
        assert events[-1] == Finished("stop")
    # A final summary message after real deltas is not the text again.
    deltas = [
        {"choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {
            "choices": [
                {"index": 0, "delta": {}, "message": {"content": "Hi"}, "finish_reason": "stop"}
            ]
        },
    ]
    assert list(events_from_chunks(deltas)) == [TextDelta("Hi"), Finished("stop")]


def test_refusals_and_thinking_parts_keep_what_they_are() -> None:
    refusal = [
        {"choices": [{"index": 0, "delta": {"content": None, "refusal": "I can't"}}]},
        {"choices": [{"index": 0, "delta": {"refusal": " help."}, "finish_reason": "stop"}]},
    ]
    assert list(events_from_chunks(refusal)) == [
        RefusalDelta("I can't"),
        RefusalDelta(" help."),
        Finished("stop"),
    ]
    mistral = {
        "type": "thinking",
        "thinking": [{"type": "text", "text": "Let me see."}],
    }
    parts = [
        {"choices": [{"index": 0, "delta": {"content": [mistral, {"type": "text", "text": "42"}]}}]}
    ]
    assert list(events_from_chunks(parts))[:2] == [ReasoningDelta("Let me see."), TextDelta("42")]


def test_tool_names_are_gathered_by_index_in_pieces_or_repeated() -> None:
    calls = ToolCalls()
    calls.add([{"index": 1, "function": {"name": "sea"}}])
    calls.add([{"index": 0, "function": {"name": "get_weather"}}])
    calls.add([{"index": 1, "function": {"name": "rch", "arguments": "{"}}])
    calls.add([{"index": 0, "function": {"name": "get_weather"}}])  # repeated whole
    calls.add([{"index": 2, "function": {"arguments": "{}"}}])
    assert calls.names == ("get_weather", "search", "unnamed")
    stream = [
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"name": "f"}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    # The whole calls come first, for a chat that offers tools (issue 16).
    assert list(events_from_chunks(stream)) == [
        ToolCallsRequested((ToolCall(id="call_1", name="f", arguments=""),)),
        Finished("tool_calls", tools=("f",)),
    ]


# --- the one mapping and its lines ---------------------------------------------------


@pytest.mark.parametrize(
    ("finish", "has_text", "tools", "status"),
    [
        ("stop", True, (), ReplyStatus.COMPLETE),
        (None, True, (), ReplyStatus.CUT),
        ("length", True, (), ReplyStatus.LENGTH),
        ("content_filter", True, (), ReplyStatus.FILTERED),
        ("content_filter", False, (), ReplyStatus.FILTERED),
        ("tool_calls", False, ("f",), ReplyStatus.TOOL_CALLS),
        ("tool_calls", True, (), ReplyStatus.TOOL_CALLS),
        ("stop", True, ("f",), ReplyStatus.TOOL_CALLS),
        ("abort", True, (), ReplyStatus.ABNORMAL),
        ("error", True, (), ReplyStatus.ABNORMAL),
        ("recitation", True, (), ReplyStatus.ABNORMAL),
        # The natural ends of other servers (issue 23): one table, any case.
        ("eos", True, (), ReplyStatus.COMPLETE),
        ("eos_token", True, (), ReplyStatus.COMPLETE),
        ("end_turn", True, (), ReplyStatus.COMPLETE),
        ("stop_sequence", True, (), ReplyStatus.COMPLETE),
        ("STOP", True, (), ReplyStatus.COMPLETE),
        ("max_tokens", True, (), ReplyStatus.LENGTH),
        ("tool_use", False, (), ReplyStatus.TOOL_CALLS),
        ("eos", False, (), ReplyStatus.EMPTY),
        ("stop", False, (), ReplyStatus.EMPTY),
        (None, False, (), ReplyStatus.EMPTY),
        ("length", False, (), ReplyStatus.EMPTY),
        ("abort", False, (), ReplyStatus.EMPTY),
    ],
)
def test_complete_only_when_the_server_said_it_ended_naturally(
    finish: str | None, has_text: bool, tools: tuple[str, ...], status: ReplyStatus
) -> None:
    assert reply_status(finish, has_text=has_text, tools=tools) is status


@pytest.mark.parametrize(
    ("status", "extra", "text", "exit_code"),
    [
        (ReplyStatus.COMPLETE, {}, None, 0),
        (ReplyStatus.LENGTH, {}, "the reply was cut by the max_tokens limit", 0),
        (ReplyStatus.FILTERED, {}, "the server's content filter stopped the reply", 0),
        (
            ReplyStatus.CUT,
            {},
            "the reply was cut: the stream ended before the server said it was finished",
            1,
        ),
        (ReplyStatus.EMPTY, {}, "the reply is empty: the server sent no text", 1),
        (
            ReplyStatus.EMPTY,
            {"finish_reason": "length"},
            "the reply is empty: the server sent no text (finish_reason 'length')",
            1,
        ),
        (
            ReplyStatus.ABNORMAL,
            {"finish_reason": "abort\x1b[2J"},
            "the server ended the reply early (finish_reason 'abort [2J')",
            1,
        ),
        (
            ReplyStatus.TOOL_CALLS,
            {"tool_names": ("a", "b")},
            "the model asked to call tools this chat does not offer: a, b",
            1,
        ),
        (
            ReplyStatus.TOOL_CALLS,
            {},
            "the model asked to call a tool, and this chat offers none",
            1,
        ),
    ],
)
def test_each_ending_has_one_line_and_an_exit_status(
    status: ReplyStatus, extra: dict[str, object], text: str | None, exit_code: int
) -> None:
    reply = Message(role=Role.ASSISTANT, content="x", status=status, **extra)  # type: ignore[arg-type]
    outcome = describe_outcome(reply)
    if text is None:
        assert outcome is None
        return
    assert outcome is not None
    assert (outcome.text, outcome.exit_code) == (text, exit_code)
    assert "\x1b" not in outcome.in_repl()


def test_the_repl_offers_continue_only_where_text_was_cut() -> None:
    def offer(status: ReplyStatus, content: str) -> str | None:
        outcome = describe_outcome(Message(role=Role.ASSISTANT, content=content, status=status))
        assert outcome is not None
        return outcome.next_step

    assert offer(ReplyStatus.CUT, "half") == "/continue asks for the rest, /retry asks again"
    assert offer(ReplyStatus.ABNORMAL, "half") == "/continue asks for the rest, /retry asks again"
    assert offer(ReplyStatus.ABNORMAL, "") == "/retry asks again"
    assert offer(ReplyStatus.EMPTY, "") == "/retry asks again"
    assert offer(ReplyStatus.TOOL_CALLS, "") == "/retry asks again"


# --- URL passwords -------------------------------------------------------------------


def test_a_base_url_password_is_redacted_however_short_or_encoded() -> None:
    redact = Redactor(["sk-proj-0123456789abcdef", *url_secrets("https://me:p%40ss-w0rd@h/v1")])
    assert url_secrets("https://me:p%40ss-w0rd@h/v1") == ["p%40ss-w0rd", "p@ss-w0rd"]
    assert redact("cannot reach https://me:p%40ss-w0rd@h/v1") == "cannot reach https://me:***@h/v1"
    assert redact("server echoed p@ss-w0rd") == "server echoed ***"
    # Any URL's password, even one too short to be redacted as a word elsewhere.
    assert Redactor([])("see http://u:pw@10.0.0.1:8080/v1 and http://h:8080/v1") == (
        "see http://u:***@10.0.0.1:8080/v1 and http://h:8080/v1"
    )
    assert url_secrets("http://h/v1") == [] and url_secrets(None) == []


# --- the store -----------------------------------------------------------------------


def test_new_statuses_and_their_details_survive_the_store_and_export(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "conversations.sqlite3")
    try:
        cid = store.create_conversation(persona="default", model="m", system_prompt="s")
        replies = [
            Message(role=Role.ASSISTANT, content="half", status=ReplyStatus.CUT),
            Message(
                role=Role.ASSISTANT,
                content="",
                status=ReplyStatus.TOOL_CALLS,
                tool_names=("get_weather",),
            ),
            Message(role=Role.ASSISTANT, content="", status=ReplyStatus.EMPTY),
            Message(
                role=Role.ASSISTANT,
                content="so",
                status=ReplyStatus.ABNORMAL,
                finish_reason="abort",
            ),
        ]
        for reply in replies:
            store.append_message(cid, Message(role=Role.USER, content="q"), persona="d", model="m")
            params: dict[str, object] = {}
            if reply.finish_reason:
                params["finish_reason"] = reply.finish_reason
            if reply.tool_names:
                params["tool_names"] = list(reply.tool_names)
            store.append_message(cid, reply, persona="d", model="m", params=params)
        exported = to_json(store.load_conversation(cid))
        again = store.load_conversation(store.import_conversation(from_json(exported)))
        loaded = conversation_from_store(again).messages[1::2]
        assert [(m.status, m.finish_reason, m.tool_names) for m in loaded] == [
            (ReplyStatus.CUT, None, ()),
            (ReplyStatus.TOOL_CALLS, None, ("get_weather",)),
            (ReplyStatus.EMPTY, None, ()),
            (ReplyStatus.ABNORMAL, "abort", ()),
        ]
        transcript = to_markdown(again)
        assert "_(cut: the stream ended before the reply was finished)_" in transcript
        assert "_(empty: the server sent no text)_" in transcript
    finally:
        store.close()
