"""Every command's own lines in Japanese: the REPL on a pipe, a Japanese interface.

A wide sweep the pty tests cannot afford: each built-in command, its errors and its
empty cases, with no English word left in what the program says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.input.base import PipeInput

from chatbot.i18n import set_language
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.helpers import make_session
from tests.support.japanese import english_words
from tests.support.repl_harness import Harness

#: What the test typed, which the program quotes back as it is.
NAMES = frozenset({"notes", "txt", "nobody", "loud", "missing", "nonsense", "fake-model"})
COMMANDS = (
    "/help",
    "/persona",
    "/persona japanese-teacher",
    "/persona nobody",
    "/undo",
    "/copy",
    "/copy 3",
    "/thinking",
    "/think",
    "/think loud",
    "/think show",
    "/file",
    "/file notes.txt",
    "/file",
    "/file clear",
    "/file missing.txt",
    "/continue",
    "/compact",
    "/usage",
    "/model",
    "/nonsense",
    "/clear",
)


@pytest.fixture
def japanese() -> Iterator[None]:
    set_language("ja")
    yield
    set_language("en")


def test_every_command_speaks_japanese(
    japanese: None, server: FakeOpenAIServer, pipe: PipeInput, tmp_path: Path
) -> None:
    (Path.cwd() / "notes.txt").write_text("買い物リスト\n", encoding="utf-8")
    harness = Harness(make_session(server.base_url), pipe, tmp_path / "history")
    keys = "こんにちは\r" + "".join(f"{command}\r" for command in COMMANDS) + "\x04"
    assert harness.run(keys) == 0
    lines = [line for line in harness.output.splitlines() if line.strip()]
    assert any("ペルソナ" in line for line in lines)
    for line in lines:
        if "You said" in line or "こんにちは" in line or "買い物" in line:
            continue  # the fake model's reply and the user's own words
        assert english_words(line, also=NAMES) == [], line
