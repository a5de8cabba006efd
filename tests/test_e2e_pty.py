"""End to end in a pseudo-terminal: the installed ``chatbot`` as a person at a keyboard uses it.

pexpect runs the real console script in a 30x100 terminal. A real terminal answers
prompt-toolkit's cursor-position requests, and prompt-toolkit only draws the bottom
toolbar once it knows where the cursor is, so :class:`Terminal` answers them too.
Enter is sent as ``\\r``: the input is multi-line and Enter is bound to carriage return.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pexpect
import pytest
from fakeserver import FakeOpenAIServer, Reply
from test_cli import chatbot_executable, chatbot_id_for_title, run_chatbot

from chatbot.personas import load_personas

__all__ = ["TOOLBAR", "Terminal", "has_colour", "strip_ansi", "terminal_env"]

ROWS, COLUMNS = 30, 100
#: The end of the bottom toolbar, drawn whenever the prompt is ready for input.
TOOLBAR = re.compile(r"session ~?[\d,]+ tokens")
_CPR_REQUEST = "\x1b[6n"
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_EXPECT_SECONDS = 15.0


def strip_ansi(text: str) -> str:
    """What a person reads: the text without escape sequences and carriage returns."""
    return _ANSI.sub("", text).replace("\r", "")


def has_colour(output: str) -> bool:
    """True if any SGR sequence in ``output`` sets a foreground or background colour."""
    for match in _SGR.finditer(output):
        for raw in match.group(1).split(";"):
            code = int(raw) if raw else 0
            if code in (38, 48) or 30 <= code <= 37 or 40 <= code <= 47:
                return True
            if 90 <= code <= 97 or 100 <= code <= 107:
                return True
    return False


def terminal_env(server: FakeOpenAIServer, **extra: str) -> dict[str, str]:
    """The isolated test environment, pointed at ``server``, in an xterm."""
    return {
        **os.environ,
        "OPENAI_BASE_URL": server.base_url,
        "TERM": "xterm-256color",
        "CHATBOT_LOCAL": "0",
        **extra,
    }


class Terminal:
    """A ``chatbot`` process in a pseudo-terminal, with a transcript of what it drew."""

    def __init__(self, *args: str, env: Mapping[str, str], cwd: Path | None = None) -> None:
        self.transcript = io.StringIO()
        self.child = pexpect.spawn(
            chatbot_executable(),
            list(args),
            env=dict(env),
            cwd=str(cwd) if cwd else None,
            dimensions=(ROWS, COLUMNS),
            encoding="utf-8",
            codec_errors="replace",
            timeout=_EXPECT_SECONDS,
        )
        self.child.logfile_read = self.transcript

    @property
    def pid(self) -> int:
        return int(self.child.pid)

    def expect(self, pattern: str | re.Pattern[str], *, timeout: float = _EXPECT_SECONDS) -> str:
        """Wait for ``pattern``; returns the text drawn since the last match, up to its end."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        compiled = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            index = self.child.expect_list(
                [re.compile(re.escape(_CPR_REQUEST)), compiled], timeout=remaining
            )
            seen.append(str(self.child.before))
            if index == 1:
                return strip_ansi("".join(seen) + str(self.child.after))
            # Answer like a terminal would: the cursor is at the top left.
            self.child.send("\x1b[1;1R")

    def wait_for_prompt(self, *, timeout: float = _EXPECT_SECONDS) -> str:
        """Wait until the prompt and its toolbar are drawn; returns the toolbar text."""
        drawn = self.expect(TOOLBAR, timeout=timeout)
        return drawn.rsplit("\n", 1)[-1]

    def send_line(self, text: str) -> None:
        self.child.send(text + "\r")

    def exit_status(self, *, timeout: float = _EXPECT_SECONDS) -> int | None:
        """Wait for the process to end; its exit status (None if killed by a signal)."""
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        status = self.child.exitstatus
        return None if status is None else int(status)

    @property
    def output(self) -> str:
        return self.transcript.getvalue()

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


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
