"""A pulled model through the installed ``chatbot``: pull, list, chat offline, switch with /model.

The stand-in hub (tests/support/hubserver.py) serves the bundled SmolLM2 GGUF
under a made-up repository; after the pull the hub is stopped, so the chat that
follows proves a pulled model needs no network. Runs the real llama.cpp server:
select with ``pytest -m local_model``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatbot.local.install import find_bundled_model, local_extra_installed
from tests.support.helpers import run_chatbot
from tests.support.hubserver import FakeHub
from tests.support.terminal import Terminal, terminal_env

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        not local_extra_installed(),
        reason="the 'local' extra is not installed: pip install -e '.[local]'",
    ),
]

REPO = "fake/Tiny"
FILE = "tiny-Q4_1.gguf"
NAME = f"{REPO}/{FILE}"
# SmolLM2-135M answers this correctly in one short sentence at temperature 0.
PERSONAS = """\
[personas.short]
description = "one short sentence"
system = "Answer in one short sentence."
temperature = 0
max_tokens = 32
"""


@pytest.fixture
def personas(tmp_path: Path) -> Path:
    path = tmp_path / "personas.toml"
    path.write_text(PERSONAS, encoding="utf-8")
    return path


@pytest.fixture
def pulled() -> str:
    bundled = find_bundled_model()
    assert bundled is not None
    with FakeHub({REPO: {FILE: bundled}}) as hub:
        result = run_chatbot("pull", f"{REPO}:Q4_1", extra_env={"HF_ENDPOINT": hub.url})
    assert result.returncode == 0, result
    assert result.stdout.startswith(f"pulled {NAME} (98.4 MB)")
    return NAME


def test_a_pulled_model_is_listed_and_answers_offline(pulled: str, personas: Path) -> None:
    listing = run_chatbot("models")
    assert listing.returncode == 0
    assert any(
        line.startswith(pulled) and "98.4 MB" in line for line in listing.stdout.splitlines()
    )

    # The hub is gone (HF_ENDPOINT is a closed port again): nothing needs it now.
    answer = run_chatbot(
        "--local-model",
        f"{REPO}:Q4_1",
        "--personas",
        str(personas),
        "--persona",
        "short",
        "What is the capital of France?",
    )

    assert answer.returncode == 0, answer
    assert "Paris" in answer.stdout
    assert answer.stderr == ""


def test_slash_model_switches_to_a_pulled_model_in_a_terminal(pulled: str, personas: Path) -> None:
    args = ["--local", "--personas", str(personas), "--persona", "short"]
    with Terminal(*args, env=terminal_env(None)) as terminal:
        toolbar = terminal.wait_for_prompt()
        assert "smollm2-135m-instruct" in toolbar

        terminal.send_line("/model")
        listed = terminal.expect(pulled)
        assert "* smollm2-135m" in listed
        terminal.wait_for_prompt()

        terminal.send_line(f"/model {REPO}:Q4_1")
        terminal.expect(f"model: {pulled} \\(local, 4,096-token context\\)", timeout=60)
        toolbar = terminal.wait_for_prompt()
        assert "/4,096" in toolbar, toolbar

        terminal.send_line("What is the capital of France?")
        terminal.expect("Paris", timeout=30)
        terminal.wait_for_prompt()
        terminal.child.sendeof()
        assert terminal.exit_status(timeout=10) == 0
    assert os.environ["CHATBOT_DATA_DIR"]
