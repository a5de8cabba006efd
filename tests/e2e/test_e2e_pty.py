"""End to end in a pseudo-terminal: the installed ``chatbot`` as a person at a keyboard uses it.

The driver, :class:`terminal.Terminal`, answers prompt-toolkit's cursor-position
requests as a real terminal would, so the bottom toolbar is drawn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatbot.settings.personas import load_personas
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import chatbot_id_for_title, run_chatbot
from tests.support.terminal import Terminal, has_colour, strip_ansi, terminal_env


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    """Terminals a test opens; any still running at the end are killed."""
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def long_markdown(sections: int = 300) -> str:
    return "\n\n".join(
        f"## Step {n}\n\nCheck cable **{n}**, then run `ping 10.0.0.{n}`.\n\n- note it\n- retry"
        for n in range(1, sections + 1)
    )


def test_conversation_with_interrupt_and_persona_switch(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    book = load_personas()
    terminal = Terminal("--model", "pty-model", env=terminal_env(server))
    terminals.append(terminal)

    toolbar = terminal.wait_for_prompt()
    assert "default" in toolbar and "pty-model" in toolbar

    # Ctrl-C while typing throws the line away; the next line is sent on its own.
    terminal.child.send("half-typed thought")
    terminal.child.send("\x03")
    # A person types on at the fresh prompt; keys sent before it exists reach a tty in
    # cooked mode, which turns Enter into a newline (Ctrl-J) and the line is not sent.
    terminal.wait_for_prompt()
    # A normal exchange: the reply streams and is rendered.
    server.enqueue(
        Reply(text="Hello **human**, nice to meet you.\n\n```python\nprint('hi')\n```\n")
    )
    terminal.send_line("hello bot")
    terminal.expect("nice to meet you")
    terminal.wait_for_prompt()
    assert "Hello human, nice to meet you." in strip_ansi(terminal.output), "rendered Markdown"
    assert has_colour(terminal.output), "code is highlighted in colour"
    assert [m["content"] for m in server.chat_requests[0].body["messages"][1:]] == ["hello bot"]

    # A multi-line paste (bracketed paste, as terminals send it) is one message.
    terminal.child.send("\x1b[200~first line\nsecond line\x1b[201~")
    terminal.send_line("")
    terminal.expect("second line")
    terminal.wait_for_prompt()
    assert server.chat_requests[1].body["messages"][-1] == {
        "role": "user",
        "content": "first line\nsecond line",
    }

    # A long, slow reply, stopped with Ctrl-C once it is well under way.
    long_reply = long_markdown()
    server.enqueue(Reply(text=long_reply, chunk_chars=4, delay=0.01))
    terminal.send_line("walk me through every step")
    terminal.expect("Step 3")
    pressed = time.monotonic()
    terminal.child.send("\x03")
    terminal.expect("interrupted", timeout=2)
    terminal.wait_for_prompt(timeout=2)
    assert time.monotonic() - pressed < 2.0

    # A new persona, then a message: new system prompt, history with the partial reply.
    terminal.send_line("/persona it-support")
    assert "it-support" in terminal.wait_for_prompt()
    terminal.send_line("what next?")
    terminal.expect("You said: what next")
    terminal.wait_for_prompt()

    last = server.chat_requests[-1].body
    assert last["model"] == "pty-model"
    messages = last["messages"]
    assert messages[0] == {"role": "system", "content": book.get("it-support").system}
    asked = [m["content"] for m in messages].index("walk me through every step")
    partial = messages[asked + 1]
    assert partial["role"] == "assistant"
    assert "Step 3" in partial["content"] and long_reply.startswith(partial["content"])
    assert len(partial["content"]) < len(long_reply)
    assert messages[-1] == {"role": "user", "content": "what next?"}

    terminal.child.sendeof()
    assert terminal.exit_status() == 0


def test_exit_word_leaves_with_status_0(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    terminal = Terminal(env=terminal_env(server))
    terminals.append(terminal)
    terminal.wait_for_prompt()

    terminal.send_line("exit")

    assert terminal.exit_status() == 0
    assert server.chat_requests == []


def test_no_color_leaves_out_every_colour(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    terminal = Terminal(env=terminal_env(server, NO_COLOR="1"))
    terminals.append(terminal)
    terminal.wait_for_prompt()
    server.enqueue(Reply(text="# Fix\n\nRun **this**:\n\n```python\nprint('hi')\n```\n\nDone."))

    terminal.send_line("how do I fix it?")
    terminal.expect("Done")
    terminal.wait_for_prompt()
    terminal.child.sendeof()

    assert terminal.exit_status() == 0
    assert "print" in strip_ansi(terminal.output)
    assert not has_colour(terminal.output)


def test_export_to_a_terminal_does_not_pass_escape_sequences_through(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    hostile = "Sure.\x1b]52;c;ZXZpbA==\x07\x1b[2J Done."
    conversation = {
        "format": "chatbot-conversation",
        "version": 1,
        "title": "hostile reply",
        "persona": "default",
        "model": "gpt-4o-mini",
        "system_prompt": "You are helpful.",
        "created_at": 1_700_000_000.0,
        "messages": [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": hostile},
        ],
    }
    source = tmp_path / "hostile.json"
    source.write_text(json.dumps(conversation), encoding="utf-8")
    assert run_chatbot("import", str(source)).returncode == 0
    number = chatbot_id_for_title(run_chatbot("sessions").stdout, "hostile reply")

    terminal = Terminal("export", str(number), env=terminal_env(server))
    terminals.append(terminal)
    terminal.expect("Done")

    assert terminal.exit_status() == 0
    assert "Sure." in terminal.output
    assert "\x1b]52" not in terminal.output and "\x1b[2J" not in terminal.output
