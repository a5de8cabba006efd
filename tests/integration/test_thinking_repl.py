"""Reasoning models in the REPL: /think, /thinking, /copy, /usage and Ctrl-C while it thinks.

The real REPL (a PromptSession on a pipe, a real store) against the fake server, with
the real thinking display on a string console; see test_thinking.py for the forms.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input

from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.render import ReplyRenderer, make_renderer
from tests.integration.test_thinking import ANSWER, THOUGHT, reply
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.faultkit import ReplHarness, Tap


class ThinkingTap(Tap):
    """The harness's tap, passing thinking on too; can press Ctrl-C mid-thinking."""

    def __init__(self, inner: ReplyRenderer, *, interrupt_after: int | None) -> None:
        super().__init__(inner)
        self.thoughts: list[str] = []
        self._interrupt_after = interrupt_after

    def think(self, text: str) -> None:
        self.thoughts.append(text)
        getattr(self.inner, "think")(text)  # noqa: B009
        if self._interrupt_after is not None and len(self.thoughts) >= self._interrupt_after:
            raise KeyboardInterrupt


class ThinkingRepl(ReplHarness):
    interrupt_after: int | None = None

    def _renderer(self) -> Tap:
        session = self.session
        inner = make_renderer(
            console=self.reply_console,
            markdown=False,
            file=self.reply_out,
            think=session.config.think_for(session.persona),
        )
        tap = ThinkingTap(inner, interrupt_after=self.interrupt_after)
        self.taps.append(tap)
        return tap


@pytest.fixture
def repl(server: FakeOpenAIServer, tmp_path: Path) -> Iterator[ThinkingRepl]:
    with create_pipe_input() as pipe:
        harness = ThinkingRepl(base_url=server.base_url, pipe=pipe, home=tmp_path)
        try:
            yield harness
        finally:
            harness.close()


def test_think_command_switches_the_mode(repl: ThinkingRepl, server: FakeOpenAIServer) -> None:
    server.enqueue(reply("inline"), reply("inline"), reply("inline"))
    step = repl.step("/think\r/think show\rq1\r")
    assert step.notices[0] == (
        "thinking: fold (shown live, then folded to one line when the answer starts)"
    )
    assert step.notices[1].startswith("thinking: show")
    assert THOUGHT in repl.reply_out.getvalue()
    step = repl.step("/think hide\rq2\r")
    assert repl.reply_out.getvalue() == ANSWER + "\n"
    step = repl.step("/think loud\r")
    assert step.notices == ["error: /think takes show, fold or hide, got 'loud'"]


def test_thinking_prints_the_full_thinking_and_copy_takes_the_answer(
    repl: ThinkingRepl, server: FakeOpenAIServer
) -> None:
    step = repl.step("/thinking\r")
    assert step.notices == ["no reply yet"]
    server.enqueue(reply("reasoning_content"))
    step = repl.step("why?\r/thinking\r/copy\r")
    assert repl.reply_out.getvalue().startswith("Thought for ")
    assert step.notices[0].startswith("thinking before the last reply (~")
    assert "\n".join(step.notices[1:4]) == THOUGHT
    assert repl.copied == [ANSWER]
    server.enqueue(Reply(text="No thinking here."))
    step = repl.step("again\r/thinking\r")
    assert step.notices == ["the last reply has no thinking"]


def test_help_lists_the_thinking_commands(repl: ThinkingRepl) -> None:
    step = repl.step("/help\r")
    text = "\n".join(step.notices)
    assert "/think [show|fold|hide]" in text and "/thinking" in text


def test_a_budget_spent_thinking_is_said_in_the_repl(
    repl: ThinkingRepl, server: FakeOpenAIServer
) -> None:
    server.enqueue(Reply(text="<think>endless", finish_reason="length"))
    step = repl.step("hard\r")
    assert step.notices == [
        "error: the model used its whole max_tokens budget thinking; raise --max-tokens; "
        "/thinking shows what it thought; /retry asks again"
    ]


def test_ctrl_c_while_thinking_is_ctrl_c_during_a_reply(
    repl: ThinkingRepl, server: FakeOpenAIServer
) -> None:
    repl.interrupt_after = 2
    server.enqueue(Reply(text=ANSWER, reasoning=THOUGHT, chunk_chars=4, delay=0.01))
    step = repl.step("why?\r")
    assert step.notices == ["reply interrupted; what arrived is kept (/retry for a new one)"]
    # The region folded: what was shown says how long it thought.
    assert repl.reply_out.getvalue().startswith("Thought for ")
    [kept] = [m for m in repl.session.conversation.messages if m.role is Role.ASSISTANT]
    assert (kept.content, kept.status) == ("", ReplyStatus.INTERRUPTED)
    assert THOUGHT.startswith(kept.thinking) and kept.thinking
    assert repl.stored[-1] == ("assistant", "", "interrupted")
    repl.interrupt_after = None
    step = repl.step("/thinking\r")
    assert step.notices[1] == kept.thinking


def test_usage_counts_the_thinking(repl: ThinkingRepl, server: FakeOpenAIServer) -> None:
    server.enqueue(
        Reply(text=ANSWER, reasoning=THOUGHT, prompt_tokens=9, completion_tokens=30,
              reasoning_tokens=21)
    )  # fmt: skip
    step = repl.step("q\r/usage\r")
    assert "thinking: 21 of this session's completion tokens" in step.notices
