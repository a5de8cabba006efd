"""A long conversation resumed in a terminal: the newest turns come back, nothing is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fakeserver import FakeOpenAIServer
from tests.support.helpers import chatbot_id_for_title, run_chatbot
from tests.support.terminal import Terminal, strip_ansi, terminal_env

#: Long enough (about 150k tokens) that resuming loads only a window of it.
TURNS = 300


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def _long_export(path: Path) -> None:
    messages: list[dict[str, object]] = []
    for n in range(TURNS):
        messages.append({"role": "user", "content": f"question number {n}"})
        messages.append({"role": "assistant", "content": f"answer number {n}: " + "words " * 500})
    path.write_text(
        json.dumps(
            {
                "format": "chatbot-conversation",
                "version": 1,
                "title": "a long talk",
                "persona": "default",
                "model": "gpt-4o-mini",
                "system_prompt": "You are helpful.",
                "created_at": 1_700_000_000.0,
                "messages": messages,
            }
        ),
        encoding="utf-8",
    )


def test_resuming_a_long_conversation_replays_its_end_and_keeps_all_of_it(
    server: FakeOpenAIServer, terminals: list[Terminal], tmp_path: Path
) -> None:
    source = tmp_path / "long.json"
    _long_export(source)
    assert run_chatbot("import", str(source)).returncode == 0
    number = chatbot_id_for_title(run_chatbot("sessions").stdout, "a long talk")

    terminal = Terminal("--session", str(number), env=terminal_env(server))
    terminals.append(terminal)
    terminal.wait_for_prompt()
    terminal.send_line("one more question")
    terminal.expect("You said: one more question")
    terminal.wait_for_prompt()
    terminal.child.sendeof()
    assert terminal.exit_status() == 0

    screen = strip_ansi(terminal.output)
    # The replay is the last few turns, and says how many came before.
    assert f"question number {TURNS - 1}" in screen
    assert f"question number {TURNS - 3}" in screen
    assert "question number 0\n" not in screen and f"question number {TURNS - 10}" not in screen
    assert f"… {2 * TURNS - 6:,} earlier messages" in screen
    # The request still carries as much history as the budget holds.
    sent = [m["content"] for m in server.chat_requests[-1].body["messages"]]
    assert sent[-1] == "one more question"
    assert f"question number {TURNS - 1}" in sent
    # Nothing older was lost: the export has every message, and the new turn.
    exported = json.loads(run_chatbot("export", str(number), "--format", "json").stdout)
    contents = [m["content"] for m in exported["messages"]]
    assert len(contents) == 2 * TURNS + 2
    assert contents[0] == "question number 0"
    assert contents[-2:] == ["one more question", "You said: one more question"]
