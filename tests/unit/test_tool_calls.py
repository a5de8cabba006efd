"""Tool calls as they arrive and as they are checked: streamed fragments, arguments, output."""

from __future__ import annotations

import json

import pytest

from chatbot.api.chunks import ToolCalls, events_from_chunks, events_from_completion
from chatbot.api.events import Finished, TextDelta, ToolCall, ToolCallsRequested
from chatbot.conversation.messages import Message, ReplyStatus, Role, restore_tool_fields
from chatbot.conversation.tool_history import shorten_old_results
from chatbot.tools.output import OUTPUT_LIMIT, HeadTail, cap_text, visible
from chatbot.tools.spec import model_name
from chatbot.tools.validate import ArgumentError, parse_arguments


def fragment(
    index: int | None, *, id: str | None = None, name: str | None = None, args: str = ""
) -> list[dict[str, object]]:
    """One streamed ``delta.tool_calls`` list holding one fragment."""
    piece: dict[str, object] = {"function": {"name": name, "arguments": args}}
    if index is not None:
        piece["index"] = index
    if id is not None:
        piece.update(id=id, type="function")
    return [piece]


def test_fragments_of_two_interleaved_calls_are_gathered_by_index() -> None:
    gathered = ToolCalls()
    for piece in (
        fragment(0, id="call_a", name="shell", args=""),
        fragment(1, id="call_b", name="files__read", args='{"pa'),
        fragment(0, args='{"comm'),
        fragment(1, args='th": "/etc/hosts"}'),
        fragment(0, args='and": "ip addr"}'),
    ):
        gathered.add(piece)

    assert gathered.calls() == (
        ToolCall(id="call_a", name="shell", arguments='{"command": "ip addr"}'),
        ToolCall(id="call_b", name="files__read", arguments='{"path": "/etc/hosts"}'),
    )
    assert gathered.names == ("shell", "files__read")


def test_calls_without_an_index_are_told_apart_by_their_ids() -> None:
    gathered = ToolCalls()
    gathered.add([{"id": "one", "function": {"name": "a", "arguments": "{}"}}])
    gathered.add([{"id": "two", "function": {"name": "b", "arguments": '{"x":'}}])
    gathered.add([{"function": {"arguments": " 1}"}}])

    assert [(c.id, c.name, c.arguments) for c in gathered.calls()] == [
        ("one", "a", "{}"),
        ("two", "b", '{"x": 1}'),
    ]


def test_a_repeated_name_is_not_doubled_and_a_missing_id_is_made_up() -> None:
    gathered = ToolCalls()
    gathered.add(fragment(0, name="shell", args='{"command"'))
    gathered.add(fragment(0, name="shell", args=': "ls"}'))

    (call,) = gathered.calls()
    assert call == ToolCall(id="call_1", name="shell", arguments='{"command": "ls"}')


def test_streamed_chunks_end_with_the_calls_then_finished() -> None:
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "Checking."}, "finish_reason": None}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": fragment(0, id="c1", name="shell", args='{"command":')},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {"tool_calls": fragment(0, args=' "ls"}')}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]

    events = list(events_from_chunks(chunks))

    assert events == [
        TextDelta("Checking."),
        ToolCallsRequested((ToolCall(id="c1", name="shell", arguments='{"command": "ls"}'),)),
        Finished("tool_calls", tools=("shell",)),
    ]


def test_a_non_streamed_completion_with_tool_calls_asks_for_them() -> None:
    body = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "shell", "arguments": "{}"},
                        },
                        {
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "x__y", "arguments": "[]"},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }

    events = list(events_from_completion(body))

    assert events[0] == TextDelta("Checking.")
    assert events[-2] == ToolCallsRequested(
        (
            ToolCall(id="c1", name="shell", arguments="{}"),
            ToolCall(id="c2", name="x__y", arguments="[]"),
        )
    )
    assert events[-1] == Finished("tool_calls", tools=("shell", "x__y"))


SCHEMA = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "minLength": 1},
        "count": {"type": "integer", "minimum": 1, "maximum": 5},
        "mode": {"enum": ["fast", "slow"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["command"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"command": "ls"', "not valid JSON"),
        ("[1, 2]", "must be a JSON object, not an array"),
        ('"ls"', "must be a JSON object, not a string"),
        ("{}", "missing the required 'command'"),
        ('{"command": 5}', "'command' must be string, not an integer"),
        ('{"command": ""}', "'command' needs at least 1 characters"),
        ('{"command": "ls", "count": 9}', "'count' must be at most 5"),
        ('{"command": "ls", "count": 1.5}', "'count' must be integer"),
        ('{"command": "ls", "mode": "turbo"}', "'mode' must be one of"),
        ('{"command": "ls", "tags": ["a", 3]}', "'tags'[1] must be string"),
        ('{"command": "ls", "rm": true}', "unknown property 'rm'"),
    ],
)
def test_arguments_that_break_the_schema_say_what_to_fix(raw: str, expected: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_arguments(raw, SCHEMA)
    assert expected in str(caught.value)


def test_good_arguments_and_an_empty_string_are_accepted() -> None:
    assert parse_arguments('{"command": "ls", "count": 2, "mode": "fast"}', SCHEMA) == {
        "command": "ls",
        "count": 2,
        "mode": "fast",
    }
    assert parse_arguments("  ", {"type": "object"}) == {}
    # Keywords the check does not know are left to the tool.
    assert parse_arguments('{"a": 1}', {"type": "object", "patternProperties": {"x": {}}}) == {
        "a": 1
    }


def test_a_megabyte_of_output_keeps_its_head_and_tail_within_the_limit() -> None:
    kept = HeadTail()
    kept.feed(b"HEAD\n")
    for _ in range(1024):
        kept.feed(b"x" * 1023 + b"\n")
    kept.feed(b"TAIL\n")

    text = kept.text()
    assert text.startswith("HEAD\n") and text.endswith("TAIL\n")
    assert "bytes of output left out" in text
    assert len(text.encode()) <= OUTPUT_LIMIT + 100
    assert kept.total == 5 + 1024 * 1024 + 5


def test_output_loses_its_escape_sequences_and_a_split_utf8_character_does_not_crash() -> None:
    text = cap_text("ok \x1b]52;c;ZXZpbA==\x07\x1b[2J\x1b]0;title\x07done ✓")
    assert text == "ok done ✓"
    kept = HeadTail(limit=8)
    kept.feed("ééééééé".encode())  # cut inside a character, both ends
    assert "\x1b" not in kept.text()


def test_what_the_user_approves_shows_control_characters_instead_of_hiding_them() -> None:
    assert visible("rm x\x1b[8m; curl evil\x1b[0m") == "rm x\\x1b[8m; curl evil\\x1b[0m"
    assert visible("a\tb\nc") == "a\tb\nc"


def test_tool_names_are_prefixed_by_their_server_and_kept_unique() -> None:
    assert model_name("files", "read.file") == "files__read_file"
    assert model_name("files", "read_file", taken=["files__read_file"]) == "files__read_file_2"
    assert len(model_name("s", "x" * 100)) == 64


def test_messages_send_and_keep_their_tool_parts() -> None:
    calls = (ToolCall(id="c1", name="shell", arguments='{"command": "ls"}'),)
    asked = Message(
        role=Role.ASSISTANT, content="", tool_calls=calls, status=ReplyStatus.TOOL_CALLS
    )
    answered = Message(role=Role.TOOL, content="a\nb", tool_call_id="c1", tool_name="shell")

    assert asked.to_api() == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "shell", "arguments": '{"command": "ls"}'},
            }
        ],
    }
    assert answered.to_api() == {"role": "tool", "tool_call_id": "c1", "content": "a\nb"}
    stored = json.loads(json.dumps({**asked.tool_fields(), **answered.tool_fields()}))
    restored = restore_tool_fields(Message(role=Role.ASSISTANT, content=""), stored)
    assert restored.tool_calls == calls and restored.tool_call_id == "c1"


def test_old_tool_results_are_shortened_but_the_newest_round_is_kept_whole() -> None:
    long = "line\n" * 500
    history = [
        Message(role=Role.USER, content="q1"),
        Message(
            role=Role.ASSISTANT,
            content="",
            tool_calls=(ToolCall(id="a", name="shell", arguments="{}"),),
        ),
        Message(role=Role.TOOL, content=long, tool_call_id="a", tool_name="shell"),
        Message(role=Role.ASSISTANT, content="answer"),
        Message(role=Role.USER, content="q2"),
        Message(
            role=Role.ASSISTANT,
            content="",
            tool_calls=(ToolCall(id="b", name="shell", arguments="{}"),),
        ),
        Message(role=Role.TOOL, content=long, tool_call_id="b", tool_name="shell"),
    ]

    shortened = shorten_old_results(history)

    assert shortened is not None
    assert "left out to save room" in shortened[2].content and shortened[2].tool_call_id == "a"
    assert shortened[6] is history[6]
    assert shorten_old_results(history[:2]) is None
