"""Shared fixtures: every test runs with its own config/data folders and no key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.base import PipeInput

from tests.support.fakeserver import FakeOpenAIServer


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point config and data at tmp_path, clear OpenAI variables, work in tmp_path."""
    home = tmp_path / "home"
    config = home / "config"
    data = home / "data"
    monkeypatch.setenv("CHATBOT_CONFIG_DIR", str(config))
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(data))
    monkeypatch.setenv("HOME", str(home))
    # Pulled models go to a cache under the test's home; the hub is a closed
    # local port unless a test starts its stand-in (tests/support/hubserver.py).
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    # Never find a real Ollama or LM Studio on the developer's machine.
    monkeypatch.setenv("CHATBOT_DISCOVER_PORTS", "")
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_MODEL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "CHATBOT_MODEL",
        "CHATBOT_PERSONA",
        "CHATBOT_DB",
        "CHATBOT_TEMPERATURE",
        "CHATBOT_MAX_TOKENS",
        "CHATBOT_CONTEXT_WINDOW",
        "CHATBOT_TIMEOUT",
        "NO_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return home


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    """A local OpenAI-compatible server speaking real SSE, started per test."""
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    """Keys for a real PromptSession, typed through a pipe."""
    with create_pipe_input() as inp:
        yield inp


@pytest.fixture(autouse=True)
def english_by_default(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests read English unless they ask for Japanese, whatever the machine's locale."""
    from chatbot.i18n import set_language

    monkeypatch.setenv("CHATBOT_LANG", "en")
    set_language("en")
    yield
    set_language("en")
