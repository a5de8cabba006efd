"""Reasoning models end to end over real SSE: thinking shown as thinking, kept apart, never
sent back, and never mistaken for the answer, whichever of the three forms it comes in.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from chatbot.api.events import Finished, ReasoningDelta, TextDelta
from chatbot.api.scripted import ScriptedBackend, ScriptedReply
from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.settings.personas import load_personas
from chatbot.store.database import Store
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.faultkit import KEY, environment, run_one_shot
from tests.support.helpers import (
    RecordingRenderer,
    make_config,
    make_session,
    run_chatbot,
    scripted_session,
)

THOUGHT = "The user asks about DNS.\nNXDOMAIN means the name does not exist.\nSuggest checks."
ANSWER = "The name does not exist: check the spelling, then try `nslookup example.com`."

FORMS: dict[str, Reply] = {
    "reasoning_content": Reply(text=ANSWER, reasoning=THOUGHT),
    "reasoning": Reply(text=ANSWER, reasoning=THOUGHT, reasoning_field="reasoning"),
    "inline": Reply(text=f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}"),
    "inline_tight": Reply(text=f"<think>{THOUGHT}</think>{ANSWER}"),
    "inline_every_byte": Reply(text=f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}", chunk_chars=1),
    # Mistral (Magistral): a "thinking" content part before the text (issue 23).
    "mistral_thinking_part": Reply(text=ANSWER, thinking_parts=THOUGHT),
}


def reply(form: str) -> Reply:
    """A fresh copy: a Reply is consumed by one request."""
    template = FORMS[form]
    return Reply(**{k: getattr(template, k) for k in template.__dataclass_fields__})


def one_shot(server: FakeOpenAIServer, home: Path, *argv: str, **env: str) -> Any:
    return run_one_shot([*argv], environ={**environment(home, base_url=server.base_url), **env})


def stored_replies(home: Path) -> list[Any]:
    with Store.open(home / "data" / "conversations.sqlite3") as store:
        latest = store.latest_conversation_id()
        assert latest is not None
        return [m for m in store.load_conversation(latest).messages if m.role is Role.ASSISTANT]


# -- one-shot: stdout is the answer, the thinking goes to stderr ---------------------


@pytest.mark.parametrize("form", FORMS)
def test_each_form_gives_the_answer_on_stdout_and_folds_the_thinking(
    server: FakeOpenAIServer, tmp_path: Path, form: str
) -> None:
    server.enqueue(reply(form))
    run = one_shot(server, tmp_path, "why NXDOMAIN?")
    assert run.code == 0, run
    assert run.stdout == ANSWER + "\n"
    assert run.stderr.startswith("Thought for "), run.stderr
    assert "tokens" in run.stderr and "DNS" not in run.stderr
    [stored] = stored_replies(tmp_path)
    assert (stored.content, stored.thinking) == (ANSWER, THOUGHT)


@pytest.mark.parametrize("form", ["reasoning_content", "inline"])
def test_think_show_writes_the_thinking_to_stderr_and_hide_writes_nothing(
    server: FakeOpenAIServer, tmp_path: Path, form: str
) -> None:
    server.enqueue(reply(form), reply(form))
    shown = one_shot(server, tmp_path, "--think", "show", "q")
    assert (shown.stdout, shown.stderr) == (ANSWER + "\n", THOUGHT + "\n")
    hidden = one_shot(server, tmp_path, "--think", "hide", "q")
    assert (hidden.stdout, hidden.stderr) == (ANSWER + "\n", "")


@pytest.mark.parametrize("form", ["reasoning_content", "reasoning", "inline"])
def test_a_server_that_ignores_stream_true_still_has_its_thinking_separated(
    server: FakeOpenAIServer, tmp_path: Path, form: str
) -> None:
    answer = reply(form)
    answer.ignore_stream = True  # one JSON completion instead of SSE
    server.enqueue(answer)
    run = one_shot(server, tmp_path, "--think", "show", "q")
    assert (run.stdout, run.stderr) == (ANSWER + "\n", THOUGHT + "\n")


@pytest.mark.parametrize(
    "thinking_only",
    [
        Reply(text="<think>\nStep one: consider the", finish_reason="length"),
        Reply(text="", reasoning="Step one: consider the", finish_reason="length"),
    ],
    ids=["unclosed_inline", "reasoning_field"],
)
def test_a_whole_budget_spent_thinking_is_said_plainly(
    server: FakeOpenAIServer, tmp_path: Path, thinking_only: Reply
) -> None:
    server.enqueue(thinking_only)
    run = one_shot(server, tmp_path, "--think", "hide", "hard question")
    assert (run.code, run.stdout) == (1, ""), "no answer: like any empty reply"
    assert run.said == [
        "chatbot: the model used its whole max_tokens budget thinking; raise --max-tokens"
    ]
    [stored] = stored_replies(tmp_path)
    assert (stored.content, stored.thinking, stored.status) == (
        "",
        "Step one: consider the",
        ReplyStatus.EMPTY,
    )
    env = environment(tmp_path, base_url=server.base_url)
    with Store.open(tmp_path / "data" / "conversations.sqlite3") as store:
        latest = store.latest_conversation_id()
        assert latest is not None and stored.id is not None
        assert store.load_conversation(latest).meta[stored.id].params["finish_reason"] == "length"
    markdown = run_one_shot(["export", str(latest), "--format", "md"], environ=env).stdout
    assert "Step one: consider the" in markdown
    assert "_(no answer: the model only thought)_" in markdown


def test_an_unclosed_think_that_stops_is_not_an_empty_success(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(Reply(text="<think>I will answer after this"))
    run = one_shot(server, tmp_path, "--think", "hide", "q")
    assert (run.code, run.stdout) == (1, "")
    assert run.said == ["chatbot: the model stopped while still thinking and gave no answer"]
    # And a stream that just ends mid-thought (no finish_reason at all).
    server.enqueue(Reply(text="<think>I will answer after", finish_reason=None))
    run = one_shot(server, tmp_path, "--think", "hide", "q")
    assert (run.code, run.stdout) == (1, "")
    assert run.said == [
        "chatbot: the stream ended while the model was still thinking, before any answer"
    ]


def test_a_think_persona_and_the_environment_choose_the_mode(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    personas = tmp_path / "personas.toml"
    personas.write_text('[personas.reasoner]\nsystem = "Think first."\nthink = "show"\n')
    server.enqueue(reply("inline"), reply("inline"), reply("inline"))
    by_persona = one_shot(server, tmp_path, "--personas", str(personas), "-p", "reasoner", "q")
    assert by_persona.stderr == THOUGHT + "\n"
    # The environment beats the persona, the flag beats both.
    by_env = one_shot(
        server, tmp_path, "--personas", str(personas), "-p", "reasoner", "q", CHATBOT_THINK="hide"
    )
    assert by_env.stderr == ""
    by_flag = one_shot(
        server, tmp_path, "--personas", str(personas), "-p", "reasoner", "--think", "fold", "q",
        CHATBOT_THINK="hide",
    )  # fmt: skip
    assert by_flag.stderr.startswith("Thought for ")


def test_bad_think_values_are_one_line_errors(server: FakeOpenAIServer, tmp_path: Path) -> None:
    bad_env = one_shot(server, tmp_path, "q", CHATBOT_THINK="loud")
    assert bad_env.code == 2
    assert bad_env.stderr.strip() == (
        "chatbot: CHATBOT_THINK must be show, fold or hide, got 'loud'"
    )
    personas = tmp_path / "personas.toml"
    personas.write_text('[personas.x]\nsystem = "s"\nthink = "always"\n')
    bad_persona = one_shot(server, tmp_path, "--personas", str(personas), "-p", "x", "q")
    assert bad_persona.code == 2
    assert "think must be one of: show, fold, hide" in bad_persona.stderr
    assert len(bad_persona.stderr.strip().splitlines()) == 1
    assert server.chat_requests == []


def test_help_names_the_think_flag(server: FakeOpenAIServer) -> None:
    result = run_chatbot("--help", server=server)
    assert result.returncode == 0
    assert "--think {show,fold,hide}" in result.stdout


# -- the thinking is never sent back --------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_the_next_request_carries_no_thinking(server: FakeOpenAIServer, form: str) -> None:
    session = make_session(server.base_url)
    server.enqueue(reply(form))
    session.send("why NXDOMAIN?", renderer=RecordingRenderer())
    session.send("and then?", renderer=RecordingRenderer())
    body = server.chat_requests[1].body
    assert [(m["role"], m["content"]) for m in body["messages"][1:]] == [
        ("user", "why NXDOMAIN?"),
        ("assistant", ANSWER),
        ("user", "and then?"),
    ]
    sent = json.dumps(body)
    assert "NXDOMAIN means" not in sent and "think>" not in sent


def test_a_resumed_conversation_sends_no_thinking(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.enqueue(reply("inline"))
    assert one_shot(server, tmp_path, "first").code == 0
    assert one_shot(server, tmp_path, "-c", "second").code == 0
    sent = json.dumps(server.chat_requests[1].body)
    assert ANSWER in sent
    assert "NXDOMAIN means" not in sent and "think>" not in sent


def test_a_summary_leaves_the_thinking_out() -> None:
    backend = ScriptedBackend()
    session = scripted_session(backend)
    for n in range(3):
        backend.add(
            ScriptedReply(
                events=(ReasoningDelta(f"musing {n}"), TextDelta(f"answer {n}"), Finished("stop"))
            )
        )
        session.send(f"question {n}", renderer=RecordingRenderer())
    backend.add(
        ScriptedReply(
            events=(
                TextDelta("<think>how to summarise</think>The short summary."),
                Finished("stop"),
            )
        )
    )
    assert session.compact(keep_turns=1) == 2
    [summary] = session.conversation.summaries
    assert summary.content.endswith("\nThe short summary.")
    assert "how to summarise" not in summary.content
    transcript = backend.requests[-1].messages[-1]["content"]
    assert "answer 0" in transcript and "musing" not in transcript


# -- usage counts the thinking -------------------------------------------------------


def test_reported_thinking_tokens_are_shown_exactly(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(
        Reply(text=ANSWER, reasoning=THOUGHT, prompt_tokens=50, completion_tokens=60,
              reasoning_tokens=40)
    )  # fmt: skip
    run = one_shot(server, tmp_path, "--usage", "--think", "hide", "q")
    assert "usage: 50 prompt + 60 completion tokens, 40 of them thinking" in run.stderr
    [stored] = stored_replies(tmp_path)
    assert stored.thinking_tokens == 40


def test_unreported_thinking_tokens_are_estimated_and_marked(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(Reply(text=f"<think>{THOUGHT}</think>{ANSWER}", usage=False))
    run = one_shot(server, tmp_path, "--usage", "--think", "hide", "q")
    [line] = [line for line in run.stderr.splitlines() if line.startswith("usage:")]
    assert "completion tokens, ~" in line and "of them thinking" in line
    # Reported usage without details: the completion count is exact, the thinking not.
    server.enqueue(Reply(text=f"<think>{THOUGHT}</think>{ANSWER}", completion_tokens=77))
    run = one_shot(server, tmp_path, "--usage", "--think", "hide", "q")
    assert " 77 completion tokens, ~" in run.stderr


def test_the_key_never_shows_in_thinking(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.enqueue(Reply(text=ANSWER, reasoning=f"the key is {KEY}, do not say it", chunk_chars=5))
    run = one_shot(server, tmp_path, "--think", "show", "q")
    assert KEY not in run.stderr and "the key is ***" in run.stderr
    [stored] = stored_replies(tmp_path)
    assert KEY not in stored.thinking


# -- stored with the reply, and exported ----------------------------------------------


def test_export_and_import_keep_the_thinking(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.enqueue(reply("inline"))
    assert one_shot(server, tmp_path, "q").code == 0
    env = environment(tmp_path, base_url=server.base_url)
    with Store.open(tmp_path / "data" / "conversations.sqlite3") as store:
        latest = store.latest_conversation_id()
    markdown = run_one_shot(["export", str(latest), "--format", "md"], environ=env).stdout
    assert f"<details><summary>Thinking</summary>\n\n{THOUGHT}\n\n</details>" in markdown
    assert markdown.index("</details>") < markdown.index(ANSWER)
    exported = tmp_path / "chat.json"
    run_one_shot(["export", str(latest), "--format", "json", "-o", str(exported)], environ=env)
    data = json.loads(exported.read_text())
    assert data["messages"][1]["content"] == ANSWER
    assert data["messages"][1]["params"]["thinking"] == THOUGHT
    assert run_one_shot(["import", str(exported)], environ=env).code == 0
    [imported] = stored_replies(tmp_path)
    assert (imported.content, imported.thinking) == (ANSWER, THOUGHT)


def test_a_scripted_session_keeps_thinking_apart() -> None:
    # The same shape reaches the session from any backend, not only over HTTP.
    backend = ScriptedBackend()
    backend.add(
        ScriptedReply(events=(TextDelta("<think>x</think>"), TextDelta("y"), Finished("stop")))
    )
    session = scripted_session(backend)
    renderer = RecordingRenderer()
    result = session.send("q", renderer=renderer)
    assert (result.reply.content, result.reply.thinking, renderer.text) == ("y", "x", "y")
    assert make_config("http://127.0.0.1:9/v1").think_for(load_personas().get("default")) == "fold"


def test_stdout_stays_clean_with_markdown_forced(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.enqueue(reply("inline"))
    out = io.StringIO()
    run = run_one_shot(
        ["--markdown", "q"], environ=environment(tmp_path, base_url=server.base_url), stdout=out
    )
    assert "NXDOMAIN means" not in run.stdout
    assert "nslookup example.com" in run.stdout
    assert run.stderr.startswith("Thought for ")
