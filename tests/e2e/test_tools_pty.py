"""Tools end to end: the installed ``chatbot`` in a pseudo-terminal, a person at the keyboard.

Approving, declining and "always"; Ctrl-C while a tool runs; one-shot mode asking at
the terminal or not at all with --yes; MCP servers that never outlive the chatbot;
a server that takes no tools; the round limit; hostile and huge command output.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fakeserver import FakeOpenAIServer, FakeToolCall, Reply
from tests.support.terminal import Terminal, terminal_env
from tests.support.toolkit import MCP_SERVER

QUESTION = r"run\? \[y/N\]"


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def shell(command: str) -> FakeToolCall:
    return FakeToolCall("shell", json.dumps({"command": command}))


def open_terminal(terminals: list[Terminal], server: FakeOpenAIServer, *args: str) -> Terminal:
    terminal = Terminal(*args, env=terminal_env(server))
    terminals.append(terminal)
    return terminal


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def wait_for_file(path: Path, seconds: float = 20.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def configure_mcp(home: Path, pid_file: Path) -> None:
    config = home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(
        "[mcp_servers.demo]\n"
        f'command = "{sys.executable}"\n'
        f'args = ["{MCP_SERVER}", "demo"]\n'
        f'env = {{ MCP_PID_FILE = "{pid_file}" }}\n',
        encoding="utf-8",
    )


def test_approve_decline_and_see_a_result(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    marker = tmp_path / "declined-ran"
    terminal = open_terminal(terminals, server, "--persona", "it-support")
    terminal.wait_for_prompt()

    server.enqueue(Reply(text="", tool_calls=[shell("echo pty-ok")]), Reply(text="Done A."))
    terminal.send_line("try it")
    asked = terminal.expect(QUESTION)
    assert "shell wants to run:" in asked and "echo pty-ok" in asked
    terminal.send_line("y")
    terminal.expect("Done A.")
    terminal.wait_for_prompt()

    server.enqueue(Reply(text="", tool_calls=[shell(f"touch {marker}")]), Reply(text="Done B."))
    terminal.send_line("again")
    terminal.expect(QUESTION)
    terminal.send_line("")  # Enter alone: the default, no
    assert "declined" in terminal.expect("Done B.")
    terminal.wait_for_prompt()
    assert not marker.exists()

    terminal.send_line("/tool 1")
    terminal.expect("pty-ok")
    terminal.wait_for_prompt()
    terminal.child.sendeof()
    assert terminal.exit_status() == 0
    assert "pty-ok\n[exit status 0]" in server.chat_requests[1].body["messages"][-1]["content"]


def test_always_for_an_mcp_tool_and_no_server_left_after_exit(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    pytest.importorskip("mcp", reason="needs the 'mcp' extra")
    pid_file = tmp_path / "mcp.pid"
    configure_mcp(Path(os.environ["HOME"]), pid_file)
    terminal = open_terminal(terminals, server)
    terminal.wait_for_prompt()
    server_pid = int(wait_for_file(pid_file))

    server.enqueue(
        Reply(text="", tool_calls=[FakeToolCall("demo__add", '{"a": 1, "b": 2}')]),
        Reply(text="", tool_calls=[FakeToolCall("demo__add", '{"a": 3, "b": 4}')]),
        Reply(text="Sums done."),
    )
    terminal.send_line("add for me")
    asked = terminal.expect(r"run\? \[y/N/a")
    assert "demo__add wants to run with:" in asked
    terminal.send_line("a")
    terminal.expect("Sums done.")
    terminal.wait_for_prompt()
    # The second call was not asked about.
    assert terminal.output.count("demo__add wants to run with:") == 1
    assert [
        m["content"] for m in server.chat_requests[-1].body["messages"] if m["role"] == "tool"
    ] == ["3", "7"]

    terminal.send_line("/tools")
    listing = terminal.expect("demo__shout")
    assert "demo (stdio, asks first): ready" in listing and "demo__add (always)" in listing
    terminal.wait_for_prompt()
    terminal.child.sendeof()
    assert terminal.exit_status() == 0
    assert gone_within(server_pid, 5)


def test_no_mcp_server_outlives_a_kill_9_of_the_chatbot(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    pytest.importorskip("mcp", reason="needs the 'mcp' extra")
    pid_file = tmp_path / "mcp.pid"
    configure_mcp(Path(os.environ["HOME"]), pid_file)
    terminal = open_terminal(terminals, server)
    terminal.wait_for_prompt()
    server_pid = int(wait_for_file(pid_file))

    os.kill(terminal.pid, signal.SIGKILL)

    assert gone_within(server_pid, 5), "the MCP server outlived the chatbot"


def test_sigterm_stops_the_chatbot_and_its_mcp_server(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    pytest.importorskip("mcp", reason="needs the 'mcp' extra")
    pid_file = tmp_path / "mcp.pid"
    configure_mcp(Path(os.environ["HOME"]), pid_file)
    terminal = open_terminal(terminals, server)
    terminal.wait_for_prompt()
    server_pid = int(wait_for_file(pid_file))

    os.kill(terminal.pid, signal.SIGTERM)

    terminal.exit_status()
    assert "Traceback" not in terminal.output
    assert gone_within(server_pid, 5)


def test_ctrl_c_in_one_shot_mode_during_an_mcp_call_exits_130_and_stops_the_server(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    pytest.importorskip("mcp", reason="needs the 'mcp' extra")
    pid_file = tmp_path / "mcp.pid"
    configure_mcp(Path(os.environ["HOME"]), pid_file)
    server.enqueue(Reply(text="", tool_calls=[FakeToolCall("demo__slow", '{"seconds": 60}')]))
    terminal = open_terminal(terminals, server, "--yes", "take your time")
    terminal.expect("⚙ #1 demo__slow")
    server_pid = int(wait_for_file(pid_file))

    terminal.child.send("\x03")

    assert terminal.exit_status() == 130
    assert "Traceback" not in terminal.output
    assert gone_within(server_pid, 5)


def test_ctrl_c_during_a_slow_command_cancels_it_and_the_chat_goes_on(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleep.pid"
    terminal = open_terminal(terminals, server, "--persona", "it-support", "--yes")
    terminal.wait_for_prompt()

    server.enqueue(
        Reply(text="Waiting.", tool_calls=[shell(f"sleep 60 & echo $! > {pid_file}; wait")])
    )
    terminal.send_line("wait a minute")
    terminal.expect("⚙ #1 shell")
    sleep_pid = int(wait_for_file(pid_file))
    pressed = time.monotonic()
    terminal.child.send("\x03")
    terminal.expect("tool call cancelled; the turn ended")
    terminal.wait_for_prompt()
    assert time.monotonic() - pressed < 3
    assert gone_within(sleep_pid, 3)

    server.enqueue(Reply(text="Still here."))
    terminal.send_line("hello?")
    terminal.expect("Still here.")
    terminal.wait_for_prompt()
    sent = server.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent[1:]] == ["user", "assistant", "tool", "user"]
    assert sent[2]["content"] == "Waiting." and sent[3]["content"] == "cancelled by the user"
    terminal.child.sendeof()
    assert terminal.exit_status() == 0


def test_ctrl_c_during_a_slow_mcp_tool_keeps_the_server(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    pytest.importorskip("mcp", reason="needs the 'mcp' extra")
    pid_file = tmp_path / "mcp.pid"
    configure_mcp(Path(os.environ["HOME"]), pid_file)
    terminal = open_terminal(terminals, server, "--yes")
    terminal.wait_for_prompt()
    server_pid = int(wait_for_file(pid_file))

    server.enqueue(Reply(text="", tool_calls=[FakeToolCall("demo__slow", '{"seconds": 60}')]))
    terminal.send_line("be slow")
    terminal.expect("⚙ #1 demo__slow")
    time.sleep(0.5)
    terminal.child.send("\x03")
    terminal.expect("tool call cancelled")
    terminal.wait_for_prompt()

    server.enqueue(
        Reply(text="", tool_calls=[FakeToolCall("demo__add", '{"a": 2, "b": 2}')]),
        Reply(text="Four."),
    )
    terminal.send_line("and add")
    terminal.expect("Four.")
    terminal.wait_for_prompt()
    assert alive(server_pid)
    assert server.chat_requests[-1].body["messages"][-1]["content"] == "4"
    terminal.child.sendeof()
    assert terminal.exit_status() == 0


def test_one_shot_asks_at_the_terminal_and_yes_does_not(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    server.enqueue(Reply(text="", tool_calls=[shell("echo asked")]), Reply(text="Answer one."))
    terminal = open_terminal(terminals, server, "--persona", "it-support", "check please")
    terminal.expect(QUESTION)
    terminal.send_line("y")
    terminal.expect("Answer one.")
    assert terminal.exit_status() == 0
    assert "asked\n[exit status 0]" in server.chat_requests[1].body["messages"][-1]["content"]

    server.enqueue(Reply(text="", tool_calls=[shell("echo unasked")]), Reply(text="Answer two."))
    terminal = open_terminal(terminals, server, "--persona", "it-support", "--yes", "check please")
    shown = terminal.expect("Answer two.")
    assert terminal.exit_status() == 0
    assert "run?" not in shown and "⚙ #1 shell echo unasked" in shown


def test_a_server_without_tool_support_gets_one_line_and_an_answer(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    server.default_reply = Reply(reject_tools=True)
    terminal = open_terminal(terminals, server, "--persona", "it-support")
    terminal.wait_for_prompt()

    terminal.send_line("hello")
    shown = terminal.expect("You said: hello")
    terminal.wait_for_prompt()
    assert "does not take tools" in shown and "asking again without tools" in shown
    terminal.send_line("again")
    shown = terminal.expect("You said: again")
    terminal.wait_for_prompt()
    assert "without tools" not in shown
    assert ["tools" in r.body for r in server.chat_requests] == [True, False, False]
    terminal.child.sendeof()
    assert terminal.exit_status() == 0


def test_the_round_limit_stops_a_model_that_keeps_asking(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    server.default_reply = Reply(text="", tool_calls=[shell("true")])
    terminal = open_terminal(terminals, server, "--persona", "it-support", "--yes")
    terminal.wait_for_prompt()

    terminal.send_line("loop forever")
    terminal.expect("stopped after 8 tool rounds: the model kept asking for tools")
    terminal.wait_for_prompt()

    assert len(server.chat_requests) == 9
    terminal.child.sendeof()
    assert terminal.exit_status() == 0


def test_hostile_and_huge_command_output_stays_off_the_terminal(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    noisy = (
        "printf '\\033]52;c;ZXZpbA==\\007\\033[2J\\033]0;pwned\\007START\\n'; "
        "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo END"
    )
    server.enqueue(Reply(text="", tool_calls=[shell(noisy)]), Reply(text="Seen it."))
    terminal = open_terminal(terminals, server, "--persona", "it-support", "--yes")
    terminal.wait_for_prompt()

    terminal.send_line("make noise")
    line = terminal.expect("Seen it.")
    terminal.wait_for_prompt()
    # Most of it was left out, and the line says so (issue 23).
    assert "⚙ #1 shell printf" in line and "16.0 KB kept of 1.0 MB in" in line
    terminal.send_line("/tool 1")
    terminal.expect("END")
    terminal.wait_for_prompt()

    output = terminal.output
    assert "\x1b]52" not in output and "\x1b]0;pwned" not in output and "\x1b[2J" not in output
    sent = server.chat_requests[1].body["messages"][-1]["content"]
    assert sent.startswith("START\n") and "END\n[exit status 0]" in sent
    assert "\x1b" not in sent and len(sent.encode()) < 17 * 1024
    terminal.child.sendeof()
    assert terminal.exit_status() == 0
