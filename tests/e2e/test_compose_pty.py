"""Composing and copying out in a real terminal: the installed ``chatbot`` in a pty.

Ctrl-X Ctrl-E runs $EDITOR (a small script standing in for a person's editor),
``-f`` without a question starts a chat with the file attached, and ``/copy``
over SSH reaches the terminal's clipboard through OSC 52.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.images import png_bytes
from tests.support.terminal import Terminal, strip_ansi, terminal_env


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def test_ctrl_x_ctrl_e_opens_the_editor_on_the_input(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    marker = tmp_path / "edited"
    editor = tmp_path / "my-editor"
    editor.write_text(
        f'#!/bin/sh\nprintf \'and the second line, from the editor\\n\' >> "$1"\ntouch "{marker}"\n'
    )
    editor.chmod(0o755)
    terminal = Terminal(env=terminal_env(server, EDITOR=str(editor), VISUAL=""))
    terminals.append(terminal)
    terminal.wait_for_prompt()

    terminal.child.send("first line typed at the prompt")
    terminal.expect("at the prompt")
    terminal.child.send("\x18\x05")  # Ctrl-X Ctrl-E
    terminal.expect("from the editor")  # back at the prompt, with the saved text
    assert marker.exists()
    assert server.chat_requests == [], "the edited text waits for Enter"
    terminal.send_line("")
    terminal.expect("You said: first line typed")
    terminal.wait_for_prompt()

    assert server.chat_requests[0].body["messages"][-1] == {
        "role": "user",
        "content": "first line typed at the prompt\nand the second line, from the editor",
    }
    terminal.child.sendeof()
    assert terminal.exit_status() == 0


def test_file_without_a_question_starts_a_chat_with_it_attached(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    (tmp_path / "diagram.png").write_bytes(png_bytes(16, 16))
    terminal = Terminal("-f", "diagram.png", env=terminal_env(server), cwd=tmp_path)
    terminals.append(terminal)

    toolbar = terminal.wait_for_prompt()
    assert "1 file attached" in toolbar
    assert re.search(
        r"attached diagram\.png \(image/png\) · ~\d+ tokens", strip_ansi(terminal.output)
    )

    terminal.send_line("what does it show?")
    terminal.expect("You said: what does it show")
    toolbar = terminal.wait_for_prompt()
    assert "attached" not in toolbar, "sent with the first message"
    content = server.chat_requests[0].body["messages"][-1]["content"]
    assert [part["type"] for part in content] == ["text", "image_url"]
    terminal.child.sendeof()
    assert terminal.exit_status() == 0


def test_copy_over_ssh_goes_through_the_terminal(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    reply = "Run `ls -la` to see them."
    # The reply also tries to set the clipboard itself: that must never reach the terminal.
    server.enqueue(Reply(text=reply + "\x1b]52;c;ZXZpbA==\x07"))
    env = terminal_env(server, SSH_TTY="/dev/pts/7", TMUX="/tmp/tmux-0/default,42,0")
    terminal = Terminal(env=env)
    terminals.append(terminal)
    terminal.wait_for_prompt()
    terminal.send_line("how do I list hidden files?")
    terminal.expect("to see them")
    terminal.wait_for_prompt()
    assert "\x1b]52" not in terminal.output, "model output never writes OSC 52"

    started = time.monotonic()
    terminal.send_line("/copy")
    terminal.expect(r"via the terminal \(OSC 52\)")
    assert time.monotonic() - started < 5
    terminal.wait_for_prompt()  # Ctrl-D typed between prompts would be the tty's, not ours

    shown = strip_ansi(terminal.output)
    assert re.search(r"copied the last reply \(\d+ B\) via the terminal \(OSC 52\)", shown)
    # The reply as shown: its own escape sequence is not copied either.
    payload = base64.b64encode(reply.encode()).decode()
    assert f"\x1b]52;c;{payload}\x07" in terminal.output
    # Inside tmux also through its passthrough, each ESC doubled.
    assert f"\x1bPtmux;\x1b\x1b]52;c;{payload}\x07\x1b\\" in terminal.output
    assert "\x1b]52;c;ZXZpbA==" not in terminal.output
    terminal.child.sendeof()
    assert terminal.exit_status() == 0
