"""A reasoning model in a real terminal: the installed ``chatbot`` shows the thinking live,
folds it to one line when the answer starts, and stops on Ctrl-C while it thinks.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from tests.support.fakeserver import FakeOpenAIServer, Reply, thinking_sample
from tests.support.terminal import Terminal, terminal_env

ANSWER = "Check the **spelling** first."


@pytest.fixture
def terminal(server: FakeOpenAIServer) -> Iterator[Terminal]:
    with Terminal(env=terminal_env(server)) as opened:
        opened.wait_for_prompt()
        # One plain exchange first, so the SDK is loaded and timings are the stream's.
        opened.send_line("hello")
        opened.expect("You said: hello")
        opened.wait_for_prompt()
        yield opened


def test_thinking_shows_live_then_folds_above_the_answer(
    server: FakeOpenAIServer, terminal: Terminal
) -> None:
    thought = thinking_sample(300)
    server.enqueue(Reply(text=ANSWER, reasoning=thought, chunk_chars=6, delay=0.01))
    sent = time.monotonic()
    terminal.send_line("why NXDOMAIN?")
    terminal.expect("Thinking… 0 s")
    assert time.monotonic() - sent < 1.0, "the first sign of thinking comes at once"
    # The region shows the thinking itself while it arrives, dim.
    during = terminal.expect(re.compile(r"Thought for [\d.]+ s · ~[\d,]+ tokens"))
    assert "Thinking… 1 s" in during, "the clock ticks while it thinks"
    assert thought.split()[-1] in during, "the newest thinking is on screen"
    after = terminal.expect("first.")
    assert "Thinking…" not in after, "the region is gone once the answer starts"
    terminal.wait_for_prompt()
    assert "\x1b[2m" in terminal.output, "the thinking is dim"


def test_ctrl_c_while_thinking_stops_it_and_keeps_the_chat(
    server: FakeOpenAIServer, terminal: Terminal
) -> None:
    server.enqueue(Reply(text=ANSWER, reasoning=thinking_sample(2000), chunk_chars=4, delay=0.02))
    terminal.send_line("think hard")
    terminal.expect("Thinking… 1 s")
    pressed = time.monotonic()
    terminal.child.send("\x03")
    terminal.expect("Thought for")
    terminal.expect("interrupted", timeout=2)
    terminal.wait_for_prompt(timeout=2)
    assert time.monotonic() - pressed < 2.0
    terminal.send_line("/thinking")
    terminal.expect("thinking before the last reply")
    terminal.wait_for_prompt()
    terminal.send_line("next")
    terminal.expect("You said: think hard")
    terminal.wait_for_prompt()
    messages = server.chat_requests[-1].body["messages"]
    # The thinking is kept (/thinking showed it), but never sent back; the question
    # left without an answer goes with the next one, so the roles alternate.
    assert [m["content"] for m in messages[-1:]] == ["think hard\n\nnext"]
    assert thinking_sample(2000)[:30] not in json.dumps(messages)
