"""A ``chatbot`` killed with SIGKILL mid-reply loses at most that reply; ``-c`` resumes the rest.

The crash is staged once per module, in a pseudo-terminal against a slow server: two
short exchanges complete, a third long reply is streaming, and the process is killed.
Each test then works on its own copy of the store that the dead process left behind.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import (
    chatbot_id_for_title,
    copy_store,
    run_chatbot,
    scrubbed_environment,
)
from tests.support.terminal import Terminal, terminal_env

FIRST_QUESTION = "My laptop cannot find the wifi network"
FIRST_ANSWER = "Turn the wifi adapter off and on again."
SECOND_QUESTION = "It still cannot find it"
SECOND_ANSWER = "Restart the router and wait two minutes."
THIRD_QUESTION = "Give me the full checklist"
LONG_ANSWER = "\n\n".join(
    f"{n}. Check item {n} of the network checklist before the next one." for n in range(1, 400)
)


@dataclass(frozen=True, kw_only=True)
class CrashedStore:
    """The store a killed chatbot left behind."""

    path: Path

    def copy_to(self, folder: Path) -> Path:
        return copy_store(self.path, folder)


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashedStore]:
    root = tmp_path_factory.mktemp("crash")
    path = root / "conversations.sqlite3"
    with FakeOpenAIServer() as server:
        server.enqueue(
            Reply(text=FIRST_ANSWER, chunk_chars=4, delay=0.02),
            Reply(text=SECOND_ANSWER, chunk_chars=4, delay=0.02),
            Reply(text=LONG_ANSWER, chunk_chars=4, delay=0.02),
        )
        env = scrubbed_environment(root / "home") | {
            "TERM": "xterm-256color",
            "OPENAI_BASE_URL": server.base_url,
            "CHATBOT_DB": str(path),
        }
        terminal = Terminal(env=env, cwd=root)
        try:
            terminal.wait_for_prompt()
            for question, answer in (
                (FIRST_QUESTION, FIRST_ANSWER),
                (SECOND_QUESTION, SECOND_ANSWER),
            ):
                terminal.send_line(question)
                terminal.expect(answer)
                terminal.wait_for_prompt()
            terminal.send_line(THIRD_QUESTION)
            terminal.expect("Check item 3")
            os.kill(terminal.pid, signal.SIGKILL)
            assert terminal.exit_status() is None
            assert terminal.child.signalstatus == signal.SIGKILL
        finally:
            terminal.close()
    yield CrashedStore(path=path)


def complete_turns() -> list[tuple[str, str]]:
    return [
        ("user", FIRST_QUESTION),
        ("assistant", FIRST_ANSWER),
        ("user", SECOND_QUESTION),
        ("assistant", SECOND_ANSWER),
    ]


def test_continue_after_sigkill_shows_the_earlier_exchanges(
    crashed: CrashedStore, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    store = crashed.copy_to(tmp_path)
    terminal = Terminal("-c", env=terminal_env(server, CHATBOT_DB=str(store)))
    try:
        for text in (FIRST_QUESTION, FIRST_ANSWER, SECOND_QUESTION, SECOND_ANSWER, THIRD_QUESTION):
            terminal.expect(text)
        terminal.wait_for_prompt()
        terminal.child.sendeof()
        assert terminal.exit_status() == 0
    finally:
        terminal.close()
    assert server.chat_requests == []


def test_export_after_sigkill_has_both_complete_turns_and_the_third_question(
    crashed: CrashedStore, tmp_path: Path
) -> None:
    env = {"CHATBOT_DB": str(crashed.copy_to(tmp_path))}
    listing = run_chatbot("sessions", extra_env=env)
    number = chatbot_id_for_title(listing.stdout, FIRST_QUESTION)

    result = run_chatbot("export", str(number), "--format", "json", extra_env=env)

    assert result.returncode == 0, result
    messages = json.loads(result.stdout)["messages"]
    assert [(m["role"], m["content"]) for m in messages[:5]] == [
        *complete_turns(),
        ("user", THIRD_QUESTION),
    ]
    assert all(m["status"] == "complete" for m in messages[:4])
    # Whatever survives of the killed reply is marked unfinished, never complete.
    for leftover in messages[5:]:
        assert leftover["role"] == "assistant" and leftover["status"] != "complete"
        assert LONG_ANSWER.startswith(leftover["content"])


def test_resumed_conversation_sends_the_complete_turns(
    crashed: CrashedStore, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    env = {"CHATBOT_DB": str(crashed.copy_to(tmp_path))}

    result = run_chatbot("-c", "Are you still there?", server=server, extra_env=env)

    assert result.returncode == 0, result
    [request] = server.chat_requests
    sent = [(m["role"], m["content"]) for m in request.body["messages"]]
    assert sent[0][0] == "system"
    assert sent[1:5] == complete_turns()
    # The question the crash left unanswered goes with the new one: roles alternate.
    assert sent[-1] == ("user", f"{THIRD_QUESTION}\n\nAre you still there?")
