"""Copying out: the clipboard tool when there is one, the terminal (OSC 52) when not or over SSH."""

from __future__ import annotations

import base64
import io
import re
import sys
from pathlib import Path

import pytest

from chatbot.errors import ClipboardUnavailable
from chatbot.render.sanitize import sanitize
from chatbot.repl.clipboard import OSC52, copy_to_clipboard, osc52_sequences

TEXT = "print('héllo')\n"
PAYLOAD = base64.b64encode(TEXT.encode()).decode()


def no_tool(_: str) -> str | None:
    return None


def tool(path: Path) -> list[str]:
    """A real clipboard command: writes what it is given to ``path``."""
    return [
        sys.executable,
        "-c",
        f"import sys; open({str(path)!r}, 'wb').write(sys.stdin.buffer.read())",
    ]


def test_the_sequence_is_osc52_with_base64_of_the_utf8_text() -> None:
    assert osc52_sequences(TEXT, environ={}) == f"\x1b]52;c;{PAYLOAD}\x07"


def test_inside_tmux_it_is_also_wrapped_in_the_passthrough() -> None:
    sent = osc52_sequences(TEXT, environ={"TMUX": "/tmp/tmux-0/default,1,0"})
    plain = f"\x1b]52;c;{PAYLOAD}\x07"
    assert sent == plain + f"\x1bPtmux;\x1b\x1b]52;c;{PAYLOAD}\x07\x1b\\"


def test_over_ssh_the_terminal_is_preferred_to_a_tool(tmp_path: Path) -> None:
    terminal = io.StringIO()
    landed = tmp_path / "clip"
    how = copy_to_clipboard(
        TEXT, command=tool(landed), environ={"SSH_TTY": "/dev/pts/3"}, terminal=terminal
    )
    assert how == OSC52 == "the terminal (OSC 52)"
    assert terminal.getvalue() == f"\x1b]52;c;{PAYLOAD}\x07"
    assert not landed.exists(), "the remote machine's clipboard is of no use to the user"


def test_locally_a_clipboard_tool_is_used(tmp_path: Path) -> None:
    terminal = io.StringIO()
    landed = tmp_path / "clip"
    how = copy_to_clipboard(TEXT, command=tool(landed), environ={}, terminal=terminal)
    assert how == sys.executable
    assert landed.read_bytes() == TEXT.encode()
    assert terminal.getvalue() == ""


def test_without_a_tool_the_terminal_is_asked() -> None:
    terminal = io.StringIO()
    how = copy_to_clipboard(TEXT, environ={"DISPLAY": ":0"}, terminal=terminal, which=no_tool)
    assert how == OSC52
    assert terminal.getvalue() == f"\x1b]52;c;{PAYLOAD}\x07"


def test_a_failing_tool_falls_back_to_the_terminal() -> None:
    terminal = io.StringIO()
    how = copy_to_clipboard(TEXT, command=["false"], environ={}, terminal=terminal)
    assert how == OSC52 and PAYLOAD in terminal.getvalue()


def test_no_tool_and_no_terminal_is_one_clear_line() -> None:
    with pytest.raises(ClipboardUnavailable) as caught:
        copy_to_clipboard(TEXT, environ={}, terminal=None, which=no_tool, platform="linux")
    assert str(caught.value) == (
        "no clipboard tool found (install wl-clipboard, xclip or xsel), "
        "and there is no terminal to ask: select the text"
    )


def test_model_text_can_never_carry_osc52() -> None:
    # Only /copy writes the sequence: the same bytes in a reply are stripped.
    hostile = f"ok {osc52_sequences('rm -rf ~', environ={'TMUX': 'x'})} done"
    assert sanitize(hostile) == "ok  done"
    assert not re.search(r"\x1b|\x07", sanitize(hostile))
