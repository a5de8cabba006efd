"""Hand-written fakes, builders and ``chatbot`` subprocess runners shared by the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from chatbot.api.client import ChatClient
from chatbot.api.scripted import ScriptedBackend
from chatbot.conversation.journal import Journal
from chatbot.conversation.retry import RetryPolicy, Waiter, sleeping_waiter
from chatbot.conversation.session import ChatSession
from chatbot.settings.config import Config, ConfigFlags, resolve_config
from chatbot.settings.personas import Persona, load_personas

if TYPE_CHECKING:
    from fakeserver import FakeOpenAIServer

__all__ = [
    "RUN_TIMEOUT",
    "TEST_KEY",
    "RecordingRenderer",
    "assert_one_line_error",
    "chatbot_executable",
    "chatbot_id_for_title",
    "chatbot_ids_for_title",
    "copy_store",
    "make_config",
    "make_session",
    "run_chatbot",
    "scripted_session",
    "scrubbed_environment",
]

TEST_KEY = "sk-test-SECRETKEY-0123456789"
#: The longest a ``chatbot`` subprocess may run in a test before it counts as hung.
RUN_TIMEOUT = 30.0
#: Variables from the developer's shell that must never leak into a test run.
_PRIVATE_PREFIXES = ("OPENAI_", "CHATBOT_")


class RecordingRenderer:
    """Collects what would have been rendered; can simulate Ctrl-C mid-reply."""

    def __init__(self, *, interrupt_after: int | None = None) -> None:
        self.chunks: list[str] = []
        self.thoughts: list[str] = []
        self.finished = 0
        self._interrupt_after = interrupt_after

    def think(self, text: str) -> None:
        self.thoughts.append(text)

    def feed(self, text: str) -> None:
        self.chunks.append(text)
        if self._interrupt_after is not None and len(self.chunks) >= self._interrupt_after:
            raise KeyboardInterrupt

    def finish(self) -> None:
        self.finished += 1

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def make_config(base_url: str, **flags: object) -> Config:
    env: Mapping[str, str] = {"OPENAI_API_KEY": TEST_KEY}
    return resolve_config(flags=ConfigFlags(**{"base_url": base_url, **flags}), env=env)


def make_session(
    base_url: str,
    *,
    persona: Persona | None = None,
    timeout: float = 5.0,
    journal: Journal | None = None,
    retry_policy: RetryPolicy | None = None,
    waiter: Waiter = sleeping_waiter,
    **flags: object,
) -> ChatSession:
    """A session through the real client to ``base_url``, with the given settings."""
    config = make_config(base_url, **flags)
    client = ChatClient(api_key=TEST_KEY, base_url=base_url, timeout=timeout, max_retries=0)
    return ChatSession(
        config=config,
        persona=persona or load_personas().get("default"),
        backend=client,
        journal=journal,
        retry_policy=retry_policy,
        waiter=waiter,
    )


def scripted_session(
    backend: ScriptedBackend | None = None,
    *,
    persona: Persona | None = None,
    notify: Callable[[str], None] | None = None,
    retry_policy: RetryPolicy | None = None,
    waiter: Waiter | None = None,
    **flags: object,
) -> ChatSession:
    """A session on a :class:`ScriptedBackend`: in-process, no server, milliseconds."""
    config = make_config("http://scripted.invalid/v1", **flags)
    return ChatSession(
        config=config,
        persona=persona or load_personas().get("default"),
        backend=backend if backend is not None else ScriptedBackend(),
        notify=notify,
        retry_policy=retry_policy,
        waiter=waiter or sleeping_waiter,
    )


# -- the installed ``chatbot`` command in a subprocess --------------------------------


def chatbot_executable() -> str:
    """The installed ``chatbot`` console script, next to this interpreter if possible."""
    beside = Path(sys.executable).parent / "chatbot"
    if beside.exists():
        return str(beside)
    found = shutil.which("chatbot")
    if found is None:
        pytest.fail("the chatbot command is not installed (pip install -e '.[test]')")
    return found


def scrubbed_environment(home: Path) -> dict[str, str]:
    """os.environ without OpenAI/chatbot settings, with every folder under ``home``.

    For fixtures that run before (or outside) the per-test isolation in conftest.py.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_PRIVATE_PREFIXES) and k != "NO_COLOR"
    }
    env.update(
        HOME=str(home),
        CHATBOT_CONFIG_DIR=str(home / "config"),
        CHATBOT_DATA_DIR=str(home / "data"),
        CHATBOT_LOCAL="0",
    )
    return env


def run_chatbot(
    *args: str,
    server: FakeOpenAIServer | None = None,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    command: Sequence[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``chatbot ARGS`` to completion with pipes for stdin, stdout and stderr.

    ``env`` defaults to the isolated test environment; ``CHATBOT_LOCAL=0`` keeps the
    embedded local model from ever being started behind a test's back.
    """
    environment = dict(os.environ if env is None else env)
    environment["CHATBOT_LOCAL"] = "0"
    if server is not None:
        environment["OPENAI_BASE_URL"] = server.base_url
    environment.update(extra_env or {})
    return subprocess.run(
        [*(command or [chatbot_executable()]), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *, status: int) -> str:
    """The run failed with ``status`` and said why in exactly one line; returns it."""
    assert result.returncode == status, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def chatbot_ids_for_title(listing: str, title: str) -> list[int]:
    """The ids in the first column of the ``chatbot sessions`` rows showing ``title``."""
    return [int(line.split()[0].lstrip("#*")) for line in listing.splitlines() if title in line]


def chatbot_id_for_title(listing: str, title: str) -> int:
    """The id of the one ``chatbot sessions`` row showing ``title``."""
    ids = chatbot_ids_for_title(listing, title)
    assert len(ids) == 1, f"expected one row titled {title!r} in:\n{listing}"
    return ids[0]


def copy_store(path: Path, folder: Path) -> Path:
    """A private copy of the store at ``path`` in ``folder``, WAL side files included."""
    target = folder / path.name
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            shutil.copy2(source, f"{target}{suffix}")
    return target
