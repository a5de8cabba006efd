"""The REPL through a real PromptSession on a pipe, answering from a scripted backend."""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.input.base import PipeInput

from chatbot.api.scripted import ScriptedBackend, reply
from tests.support.helpers import scripted_session
from tests.support.repl_harness import Harness


def test_a_turn_then_retry_then_exit(pipe: PipeInput, tmp_path: Path) -> None:
    backend = ScriptedBackend([reply("one"), reply("two")])
    harness = Harness(scripted_session(backend), pipe, tmp_path / "history")
    assert harness.run("hello\r/retry\rexit\r") == 0
    assert [r.text for r in harness.renderers] == ["one", "two"]
    assert [m.content for m in harness.session.conversation.messages] == ["hello", "two"]


def test_a_reply_cut_by_max_tokens_offers_continue(pipe: PipeInput, tmp_path: Path) -> None:
    backend = ScriptedBackend([reply("half", finish="length")])
    harness = Harness(scripted_session(backend), pipe, tmp_path / "history")
    harness.run("tell me\r\x04")
    assert "cut by the max_tokens limit; /continue asks for the rest" in harness.output


def test_a_summarising_notice_reaches_the_screen(pipe: PipeInput, tmp_path: Path) -> None:
    backend = ScriptedBackend(fallback=reply("ok " * 40))
    harness = Harness(
        lambda notify: scripted_session(
            backend, notify=notify, context_window=700, max_tokens=100, overflow="summarize"
        ),
        pipe,
        tmp_path / "history",
    )
    harness.run("".join(f"message {n} " + "pad " * 40 + "\r" for n in range(8)) + "\x04")
    assert "summarising" in harness.output
