"""The REPL driven through a real PromptSession on a pipe input."""

from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.input.base import PipeInput

from chatbot.conversation.messages import ReplyStatus
from chatbot.repl.toolbar import toolbar_text
from chatbot.settings.personas import load_personas
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import RecordingRenderer, make_session
from tests.support.repl_harness import Harness


@pytest.fixture
def harness(server: FakeOpenAIServer, pipe: PipeInput, tmp_path: Path) -> Harness:
    return Harness(make_session(server.base_url), pipe, tmp_path / "history")


def test_enter_sends_and_ctrl_d_leaves(harness: Harness, server: FakeOpenAIServer) -> None:
    assert harness.run("hello\r\x04") == 0
    assert harness.renderers[0].text == "You said: hello"
    assert server.chat_requests[0].body["messages"][-1]["content"] == "hello"


@pytest.mark.parametrize("word", ["exit", "quit", "/exit", "/quit"])
def test_exit_words_leave_cleanly(harness: Harness, server: FakeOpenAIServer, word: str) -> None:
    assert harness.run(f"{word}\rnever sent\r") == 0
    assert server.chat_requests == []


def test_alt_enter_adds_a_newline_and_paste_is_one_message(
    harness: Harness, server: FakeOpenAIServer
) -> None:
    paste = "\x1b[200~line one\nline two\nline three\x1b[201~"
    harness.run("first\x1b\rsecond\r" + paste + "\r\x04")
    sent = [r.body["messages"][-1]["content"] for r in server.chat_requests]
    assert sent == ["first\nsecond", "line one\nline two\nline three"]


def test_empty_and_whitespace_input_is_ignored(harness: Harness, server: FakeOpenAIServer) -> None:
    harness.run("\r   \r\t\r\x04")
    assert server.chat_requests == []


def test_ctrl_c_while_typing_clears_the_line(harness: Harness, server: FakeOpenAIServer) -> None:
    harness.run("oops\x03real\r\x04")
    assert [r.body["messages"][-1]["content"] for r in server.chat_requests] == ["real"]


def test_input_history_persists_privately(harness: Harness, tmp_path: Path) -> None:
    harness.run("remember me\r\x04")
    history = tmp_path / "history"
    assert "remember me" in history.read_text()
    assert history.stat().st_mode & 0o777 == 0o600


def test_persona_command_switches_and_lists(harness: Harness, server: FakeOpenAIServer) -> None:
    harness.run("/persona japanese-teacher\rこんにちは\r/persona\r\x04")
    body = server.chat_requests[0].body
    assert body["messages"][0]["content"] == load_personas().get("japanese-teacher").system
    assert "* japanese-teacher" in harness.output
    assert "it-support" in harness.output


def test_unknown_persona_is_one_line_and_the_chat_goes_on(
    harness: Harness, server: FakeOpenAIServer
) -> None:
    harness.run("/persona nobody\rstill here\r\x04")
    assert "unknown persona 'nobody'" in harness.output
    assert "available:" in harness.output
    assert len(server.chat_requests) == 1


def test_system_model_clear_undo_retry(harness: Harness, server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="a1"), Reply(text="a2"), Reply(text="a2 again"))
    harness.run("/system Talk like a pirate.\r/model other-model\rq1\rq2\r/retry\r/undo\r\x04")
    first = server.chat_requests[0].body
    assert first["messages"][0]["content"] == "Talk like a pirate."
    assert first["model"] == "other-model"
    retried = server.chat_requests[2].body
    assert [m["content"] for m in retried["messages"][1:]] == ["q1", "a1", "q2"]
    assert [m.content for m in harness.session.conversation.messages] == ["q1", "a1"]
    harness.pipe.send_text("/clear\r\x04")
    harness.repl.run()
    assert harness.session.conversation.messages == []


def test_copy_last_reply_and_code_block(harness: Harness, server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="Try:\n\n```sh\nls -la\n```\n\nor\n\n```py\nprint(1)\n```\n"))
    harness.run("how?\r/copy 2\r/copy\r/copy 9\r\x04")
    assert harness.copied[0] == "print(1)"
    assert harness.copied[1].startswith("Try:")
    assert "code block number from 1 to 2" in harness.output


def test_api_errors_are_one_line_and_the_repl_stays(
    harness: Harness, server: FakeOpenAIServer
) -> None:
    server.enqueue(Reply(status=401), Reply(status=429, headers={"Retry-After": "3"}))
    harness.run("a\rb\rc\r\x04")
    assert "rejected the API key (401)" in harness.output
    assert "rate limited" in harness.output and "3s" in harness.output
    assert "Traceback" not in harness.output
    assert "SECRETKEY" not in harness.output
    # The unanswered questions went along with the last one, so the roles alternate.
    assert harness.session.conversation.messages[-1].content == "You said: a\n\nb\n\nc"


def test_interrupted_reply_is_reported(harness: Harness, server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="x " * 500, chunk_chars=2, delay=0.001))

    def interrupting() -> RecordingRenderer:
        renderer = RecordingRenderer(interrupt_after=2)
        harness.renderers.append(renderer)
        return renderer

    harness.repl._new_renderer = interrupting
    harness.run("go\r\x04")
    assert "reply interrupted" in harness.output
    assert harness.session.conversation.messages[-1].status is ReplyStatus.INTERRUPTED


def test_toolbar_shows_persona_model_context_and_tokens(
    harness: Harness, server: FakeOpenAIServer
) -> None:
    before = toolbar_text(harness.session)
    assert "default" in before and "gpt-4o-mini" in before and "context ~" in before
    server.enqueue(Reply(text="ok", prompt_tokens=321, completion_tokens=9))
    harness.run("hi\r\x04")
    after = toolbar_text(harness.session)
    assert "context 321/128,000" in after
    assert "session 330 tokens" in after


def test_slash_commands_and_persona_names_complete(harness: Harness) -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    completer = harness.prompt.completer
    assert completer is not None

    def complete(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert "/persona" in complete("/per")
    assert complete("/persona japa") == ["japanese-teacher"]
    assert complete("hello") == []
