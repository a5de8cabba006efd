"""Tool rounds in a session on a scripted backend: approval, results, limits, recovery."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatbot.api.scripted import ScriptedBackend, reply
from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.conversation.outcome import describe_outcome
from chatbot.errors import ToolsUnsupported
from chatbot.settings.personas import load_personas
from tests.support.helpers import RecordingRenderer
from tests.support.toolkit import CTRL_C, ToolKit, tool_session


def shell(command: str) -> tuple[str, str]:
    return ("shell", json.dumps({"command": command}))


@pytest.fixture
def kits(tmp_path: Path) -> Iterator[list[ToolKit]]:
    made: list[ToolKit] = []
    yield made
    for kit in made:
        kit.close()


def kit_for(kits: list[ToolKit], tmp_path: Path, **options: object) -> ToolKit:
    kit = ToolKit(tmp_path, **options)  # type: ignore[arg-type]
    kits.append(kit)
    return kit


def sent_messages(backend: ScriptedBackend, index: int) -> list[dict[str, object]]:
    return [dict(m) for m in backend.requests[index].messages]


def test_an_approved_command_runs_and_its_output_goes_back_to_the_model(
    kits: list[ToolKit], tmp_path: Path
) -> None:
    kit = kit_for(kits, tmp_path, answers=["y"])
    backend = ScriptedBackend(
        [
            reply("Let me look.", tool_calls=[shell("echo 'inet 10.0.0.7'")]),
            reply("Your address is 10.0.0.7."),
        ]
    )
    session = tool_session(backend, kit)

    result = session.send("what is my IP?", renderer=RecordingRenderer())

    assert result.reply.content == "Your address is 10.0.0.7." and result.tool_rounds == 1
    assert describe_outcome(result.reply) is None
    first = backend.requests[0]
    assert first.tools is not None and [t["function"]["name"] for t in first.tools] == ["shell"]
    answered = sent_messages(backend, 1)[-1]
    assert answered["role"] == "tool" and answered["tool_call_id"] == "call_1"
    assert "inet 10.0.0.7" in str(answered["content"]) and "[exit status 0]" in str(
        answered["content"]
    )
    assert kit.person is not None and kit.person.questions == ["run? [y/N] "]
    assert "shell wants to run:" in kit.output and "echo 'inet 10.0.0.7'" in kit.output
    assert "⚙ #1 shell echo 'inet 10.0.0.7' … " in kit.output and " B in " in kit.output
    # The model's text before the call and after it went to two renderers.
    assert kit.renderers[0].text == "Your address is 10.0.0.7."


@pytest.mark.parametrize("answer", ["n", "", "always", "a"])
def test_the_shell_runs_only_on_yes(kits: list[ToolKit], tmp_path: Path, answer: str) -> None:
    marker = tmp_path / "ran"
    kit = kit_for(kits, tmp_path, answers=[answer])
    backend = ScriptedBackend([reply(tool_calls=[shell(f"touch {marker}")]), reply("OK, I won't.")])
    session = tool_session(backend, kit)

    result = session.send("fix it", renderer=RecordingRenderer())

    assert not marker.exists()
    assert result.reply.content == "OK, I won't."
    answered = sent_messages(backend, 1)[-1]
    assert "declined" in str(answered["content"])
    assert "→ declined" in kit.output


def test_two_parallel_calls_are_answered_in_order(kits: list[ToolKit], tmp_path: Path) -> None:
    kit = kit_for(kits, tmp_path, assume_yes=True)
    backend = ScriptedBackend(
        [reply(tool_calls=[shell("echo one"), shell("echo two")]), reply("Done.")]
    )
    session = tool_session(backend, kit)

    session.send("both", renderer=RecordingRenderer())

    messages = sent_messages(backend, 1)
    asked = messages[-3]
    assert [c["id"] for c in asked["tool_calls"]] == ["call_1", "call_2"]  # type: ignore[index, union-attr]
    assert [m["tool_call_id"] for m in messages[-2:]] == ["call_1", "call_2"]
    assert "one" in str(messages[-2]["content"]) and "two" in str(messages[-1]["content"])
    assert "#1 shell echo one" in kit.output and "#2 shell echo two" in kit.output


@pytest.mark.parametrize(
    ("arguments", "told"),
    [
        ('{"command": "ls"', "not valid JSON"),
        ('{"cmd": "ls"}', "missing the required 'command'"),
        ("[]", "must be a JSON object"),
    ],
)
def test_bad_arguments_go_back_to_the_model_as_an_error(
    kits: list[ToolKit], tmp_path: Path, arguments: str, told: str
) -> None:
    kit = kit_for(kits, tmp_path, answers=[])
    backend = ScriptedBackend([reply(tool_calls=[("shell", arguments)]), reply("Sorry.")])
    session = tool_session(backend, kit)

    result = session.send("go", renderer=RecordingRenderer())

    assert result.reply.content == "Sorry."
    answered = sent_messages(backend, 1)[-1]
    assert str(answered["content"]).startswith("error:") and told in str(answered["content"])
    assert "→ bad arguments" in kit.output


def test_a_tool_that_does_not_exist_is_an_error_result(kits: list[ToolKit], tmp_path: Path) -> None:
    kit = kit_for(kits, tmp_path, answers=[])
    backend = ScriptedBackend([reply(tool_calls=[("files__delete", "{}")]), reply("Hm.")])
    session = tool_session(backend, kit)

    session.send("go", renderer=RecordingRenderer())

    assert "no tool 'files__delete'" in str(sent_messages(backend, 1)[-1]["content"])


def test_sudo_is_refused_without_asking(kits: list[ToolKit], tmp_path: Path) -> None:
    kit = kit_for(kits, tmp_path, answers=[], assume_yes=True)
    backend = ScriptedBackend(
        [
            reply(tool_calls=[shell("sudo systemctl restart NetworkManager")]),
            reply("Run it yourself."),
        ]
    )
    session = tool_session(backend, kit)

    session.send("fix wifi", renderer=RecordingRenderer())

    assert "never runs sudo" in str(sent_messages(backend, 1)[-1]["content"])
    assert "refused: it uses sudo" in kit.output


def test_with_nobody_to_ask_the_call_is_refused_and_the_model_told(
    kits: list[ToolKit], tmp_path: Path
) -> None:
    kit = kit_for(kits, tmp_path, answers=None)
    backend = ScriptedBackend([reply(tool_calls=[shell("ip addr")]), reply("I could not check.")])
    session = tool_session(backend, kit)

    result = session.send("check", renderer=RecordingRenderer())

    assert result.reply.content == "I could not check."
    assert "no terminal to ask" in str(sent_messages(backend, 1)[-1]["content"])
    assert "refused: no terminal to ask (--yes allows it)" in kit.output
    assert "wants to run" not in kit.output


def test_the_round_limit_ends_the_turn_with_one_line_and_a_valid_history(
    kits: list[ToolKit], tmp_path: Path
) -> None:
    kit = kit_for(kits, tmp_path, assume_yes=True, max_rounds=2)
    again = reply(tool_calls=[shell("echo again")])
    backend = ScriptedBackend([again, again, again, reply("Finally.")])
    session = tool_session(backend, kit)

    result = session.send("loop", renderer=RecordingRenderer())

    assert len(backend.requests) == 3
    assert result.tool_rounds == 2 and result.reply.status is ReplyStatus.SKIPPED
    outcome = describe_outcome(result.reply, tool_rounds=result.tool_rounds)
    assert (
        outcome is not None
        and outcome.text == "stopped after 2 tool rounds: the model kept asking for tools"
    )
    # Every call has its answer, so the next question is a valid request.
    session.send("and now?", renderer=RecordingRenderer())
    messages = sent_messages(backend, 3)
    asked_ids = [
        c["id"] for m in messages if m["role"] == "assistant" for c in m.get("tool_calls") or []
    ]  # type: ignore[union-attr]
    answered_ids = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    assert len(asked_ids) == len(answered_ids) == 3
    assert "limit of 2 tool rounds" in str(messages[-2]["content"])


def test_ctrl_c_at_the_question_cancels_the_call_and_ends_the_turn(
    kits: list[ToolKit], tmp_path: Path
) -> None:
    kit = kit_for(kits, tmp_path, answers=[CTRL_C])
    backend = ScriptedBackend(
        [reply("Checking…", tool_calls=[shell("ip addr"), shell("ip route")]), reply("never sent")]
    )
    session = tool_session(backend, kit)

    result = session.send("check", renderer=RecordingRenderer())

    assert len(backend.requests) == 1
    assert result.reply.role is Role.TOOL and result.reply.status is ReplyStatus.INTERRUPTED
    outcome = describe_outcome(result.reply)
    assert outcome is not None and outcome.exit_code == 130 and "cancelled" in outcome.text
    statuses = [m.status for m in session.conversation.messages if m.role is Role.TOOL]
    # The second call was never shown: not run, and it takes no number (issue 23).
    assert statuses == [ReplyStatus.INTERRUPTED, ReplyStatus.NOT_RUN]
    # What was shown is kept: the reply's text before the calls.
    assert session.conversation.messages[1].content == "Checking…"


def test_a_server_without_tools_is_asked_again_without_them_and_remembered(
    kits: list[ToolKit], tmp_path: Path
) -> None:
    kit = kit_for(kits, tmp_path, answers=[])
    backend = ScriptedBackend(
        [
            ToolsUnsupported("http://x does not take tools"),
            reply("Plain answer."),
            reply("Again plain."),
        ]
    )
    session = tool_session(backend, kit)

    result = session.send("hi", renderer=RecordingRenderer())
    session.send("more", renderer=RecordingRenderer())

    assert result.reply.content == "Plain answer."
    assert [r.tools is not None for r in backend.requests] == [True, False, False]
    assert kit.output.count("asking again without tools") == 1
    fresh = ToolKit(tmp_path, answers=[])
    kits.append(fresh)
    assert fresh.toolbox.offered(model=session.params.model, persona=session.persona) is None


def test_tools_off_offers_none_and_a_tool_call_anyway_is_said_plainly(
    kits: list[ToolKit], tmp_path: Path
) -> None:
    kit = kit_for(kits, tmp_path, answers=[])
    kit.toolbox.enabled = False
    backend = ScriptedBackend([reply("", tool_calls=[shell("ls")])])
    session = tool_session(backend, kit)

    result = session.send("hi", renderer=RecordingRenderer())

    assert backend.requests[0].tools is None
    assert result.reply.status is ReplyStatus.TOOL_CALLS and not result.reply.tool_calls
    outcome = describe_outcome(result.reply)
    assert outcome is not None
    assert outcome.text == "the model asked to call a tool this chat does not offer: shell"


def test_the_default_persona_gets_no_shell(kits: list[ToolKit], tmp_path: Path) -> None:
    kit = kit_for(kits, tmp_path, answers=[])
    backend = ScriptedBackend([reply("hello")])
    session = tool_session(backend, kit, persona="default")

    session.send("hi", renderer=RecordingRenderer())

    assert backend.requests[0].tools is None


def test_every_tool_round_counts_in_usage(kits: list[ToolKit], tmp_path: Path) -> None:
    kit = kit_for(kits, tmp_path, assume_yes=True)
    backend = ScriptedBackend(
        [reply(tool_calls=[shell("echo hi")], usage=(100, 10)), reply("Done.", usage=(300, 5))]
    )
    session = tool_session(backend, kit)

    result = session.send("go", renderer=RecordingRenderer())

    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (400, 15)
    assert session.usage.requests == 2 and session.usage.prompt_tokens == 400


def test_old_tool_results_are_left_out_before_any_turn_is(
    kits: list[ToolKit], tmp_path: Path
) -> None:
    kit = kit_for(kits, tmp_path, assume_yes=True)
    backend = ScriptedBackend([reply(tool_calls=[shell("seq 1 2500")]), reply("Counted.")])
    session = tool_session(backend, kit, context_window=6000)
    session.send("count to 2500", renderer=RecordingRenderer())
    assert "2500" in str(sent_messages(backend, 1)[-1]["content"])  # sent whole while it mattered

    session.send("word " * 1500, renderer=RecordingRenderer())

    later = sent_messages(backend, 2)
    assert session.dropped_turns == 0
    assert later[1]["content"] == "count to 2500"  # the old turn is still there
    stub = [m for m in later if m["role"] == "tool"]
    assert len(stub) == 1 and "left out to save room" in str(stub[0]["content"])
    # The store (and /tool 1) still has the whole result.
    kept = [m for m in session.conversation.messages if m.role is Role.TOOL]
    assert "2500" in kept[0].content


def test_the_it_support_persona_turns_the_shell_on() -> None:
    assert load_personas().get("it-support").tools == ("shell", "*")
    assert load_personas().get("default").tools is None


def test_retry_and_undo_take_a_whole_tool_turn_with_them(
    kits: list[ToolKit], tmp_path: Path
) -> None:
    kit = kit_for(kits, tmp_path, assume_yes=True)
    backend = ScriptedBackend(
        [
            reply(tool_calls=[shell("echo first")]),
            reply("First answer."),
            reply(tool_calls=[shell("echo second")]),
            reply("Second answer."),
        ]
    )
    session = tool_session(backend, kit)
    session.send("go", renderer=RecordingRenderer())

    result = session.retry(renderer=RecordingRenderer())

    assert result.reply.content == "Second answer."
    roles = [m.role for m in session.conversation.messages]
    assert roles == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
    assert "second" in session.conversation.messages[2].content
    assert [m["role"] for m in sent_messages(backend, 2)[1:]] == ["user"]
    removed = session.undo()
    assert len(removed) == 4 and session.conversation.messages == []


def test_a_summary_of_old_turns_includes_tool_results_shortened(
    kits: list[ToolKit], tmp_path: Path
) -> None:
    kit = kit_for(kits, tmp_path, assume_yes=True)
    backend = ScriptedBackend(
        [
            reply(tool_calls=[shell("seq 1 3000")]),
            reply("Counted."),
            reply("q2 answer"),
            reply("q3 answer"),
            reply("- the user counted to 3000 with seq"),
        ]
    )
    session = tool_session(backend, kit)
    for question in ("count", "q2", "q3"):
        session.send(question, renderer=RecordingRenderer())

    assert session.compact(keep_turns=2) == 1

    transcript = str(list(backend.requests[-1].messages)[-1]["content"])
    assert "[calls shell with" in transcript
    assert "Tool result (shell): 1\n2\n3" in transcript and "[…]" in transcript
    assert len(transcript) < 2000
