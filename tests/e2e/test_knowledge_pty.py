"""A knowledge base in a real terminal: the installed ``chatbot`` in a pty.

The progress bar of ``chatbot knowledge add`` (only on a terminal), then a chat with
``--knowledge``: the toolbar shows the share, the sources follow the answer, and
``/sources`` prints the passage, with a hostile document's escapes removed.
"""

from __future__ import annotations

from pathlib import Path

import pexpect

from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import chatbot_executable
from tests.support.terminal import Terminal, strip_ansi, terminal_env


def test_add_shows_progress_then_a_chat_answers_with_sources(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    docs = tmp_path / "handbook"
    docs.mkdir()
    for n in range(40):
        (docs / f"note{n}.md").write_text(f"# Note {n}\n\nItem {n} of the inventory.\n")
    (docs / "vpn.md").write_text("# VPN\n\nThe VPN needs UDP port 1194.\x1b]0;owned\x07\x1b[2J\n")
    env = terminal_env(server)
    add = pexpect.spawn(
        chatbot_executable(), ["knowledge", "add", "it", str(docs)], env=env, encoding="utf-8"
    )
    add.expect(pexpect.EOF, timeout=60)
    add.close()
    assert add.exitstatus == 0
    shown = strip_ansi(add.before or "")
    assert "it: 41 files (41 read)" in shown

    server.enqueue(Reply(text="Open UDP 1194 [1]."))
    terminal = Terminal("--knowledge", "it", env=env)
    try:
        toolbar = terminal.wait_for_prompt()
        assert "knowledge it 25%" in toolbar
        terminal.send_line("which port does the vpn need?")
        terminal.expect("source \\[1\\] it: handbook/vpn.md § VPN")
        terminal.wait_for_prompt()
        terminal.send_line("/sources")
        terminal.expect("The VPN needs UDP port 1194.")
        terminal.wait_for_prompt()
        assert "\x1b]0;owned" not in terminal.output and "\x1b[2J" not in terminal.output
        terminal.child.sendeof()
        assert terminal.exit_status() == 0
    finally:
        terminal.close()
