"""Real MCP servers nobody here wrote, through the hub and a session (issue 23).

``mcp-server-time`` and ``mcp-server-git`` come from PyPI with the ``test`` extra.
``@modelcontextprotocol/server-everything`` and ``server-filesystem`` come from npm:
``.ci/run`` installs them (``npm install --prefix``) into ``$CHATBOT_NPM_PREFIX``
(default ``~/.cache/chatbot-ci/npm``). Where they are not installed these tests say so
and skip; in CI (``CI`` set) a missing one fails instead, so CI always runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="needs the 'mcp' extra")

from chatbot.api.scripted import ScriptedBackend, reply
from chatbot.conversation.messages import Role
from chatbot.repl.commands.tool_commands import tool_status_lines
from chatbot.settings.personas import load_personas
from chatbot.settings.tool_config import McpServerConfig
from chatbot.tools.mcp_hub import TASKS_UNSUPPORTED, McpHub
from tests.support.helpers import RecordingRenderer
from tests.support.toolkit import ToolKit, tool_session

#: Where .ci/run installs the npm servers (computed before any test changes HOME).
NPM_PREFIX = Path(
    os.environ.get("CHATBOT_NPM_PREFIX") or Path.home() / ".cache" / "chatbot-ci" / "npm"
)
IN_CI = bool(os.environ.get("CI"))


def installed(program: str, how: str) -> str:
    """The path of ``program``, or a skip (locally) / a failure (in CI) saying how to get it."""
    # Beside this Python (a virtualenv's scripts), on PATH, or in the npm prefix.
    places = [
        Path(sys.executable).parent,
        *os.get_exec_path(),
        NPM_PREFIX / "node_modules" / ".bin",
    ]
    found = shutil.which(program, path=os.pathsep.join(map(str, places)))
    if found is None:
        message = f"{program} is not installed here ({how}); CI installs it and runs this test"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


def npm_server(program: str) -> str:
    return installed(program, f"bash .ci/run, or npm install --prefix {NPM_PREFIX} …")


def pypi_server(program: str) -> str:
    return installed(program, "pip install -e '.[test]'")


def started(tmp_path: Path, *servers: McpServerConfig) -> McpHub:
    hub = McpHub(servers, log_dir=tmp_path / "logs")
    hub.start_in_background()
    assert hub.wait_started(60), [(s.status, s.detail) for s in hub.states()]
    for state in hub.states():
        assert state.status == "ready", state.detail
    return hub


@pytest.fixture
def hubs() -> Iterator[list[McpHub]]:
    made: list[McpHub] = []
    yield made
    for hub in made:
        hub.close()


# -- mcp-server-time, mcp-server-git (PyPI) ------------------------------------------


def test_mcp_server_time_answers_a_session(tmp_path: Path) -> None:
    command = pypi_server("mcp-server-time")
    server = McpServerConfig(name="time", command=command, args=("--local-timezone", "UTC"))
    kit = ToolKit(tmp_path, assume_yes=True, servers=[server])
    try:
        assert kit.hub is not None and kit.hub.wait_started(60)
        arguments = json.dumps(
            {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
        )
        backend = ScriptedBackend(
            [reply(tool_calls=[("time__convert_time", arguments)]), reply("21:00 in Tokyo.")]
        )
        session = tool_session(backend, kit, persona="default")
        result = session.send("noon UTC in Tokyo?", renderer=RecordingRenderer())

        assert result.reply.content == "21:00 in Tokyo."
        (answer,) = [m for m in session.conversation.messages if m.role is Role.TOOL]
        assert "Asia/Tokyo" in answer.content and "21:00" in answer.content
        assert "⚙ #1 time__convert_time" in kit.output
    finally:
        kit.close()


def test_mcp_server_git_reads_a_repository(tmp_path: Path, hubs: list[McpHub]) -> None:
    command = pypi_server("mcp-server-git")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com"}
    git = {"cwd": repo, "env": {**os.environ, **env}, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **git)  # type: ignore[call-overload]
    (repo / "notes.txt").write_text("hello\n", encoding="utf-8")
    subprocess.run(["git", "add", "notes.txt"], **git)  # type: ignore[call-overload]
    subprocess.run(["git", "commit", "-qm", "First notes"], **git)  # type: ignore[call-overload]
    (repo / "notes.txt").write_text("hello again\n", encoding="utf-8")

    hub = started(
        tmp_path, McpServerConfig(name="git", command=command, args=("--repository", str(repo)))
    )
    hubs.append(hub)
    names = {spec.remote_name for spec in hub.tools()}
    assert {"git_status", "git_log", "git_diff_unstaged"} <= names
    status = hub.call("git", "git_status", {"repo_path": str(repo)}, timeout=30)
    assert not status.is_error and "notes.txt" in status.text
    log = hub.call("git", "git_log", {"repo_path": str(repo)}, timeout=30)
    assert "First notes" in log.text


# -- server-everything, server-filesystem (npm) --------------------------------------


def test_server_everything_over_stdio_tasks_progress_and_tools(
    tmp_path: Path, hubs: list[McpHub]
) -> None:
    command = npm_server("mcp-server-everything")
    hub = started(tmp_path, McpServerConfig(name="every", command=command, args=("stdio",)))
    hubs.append(hub)
    (state,) = hub.states()
    research = next(t for t in state.tools if t.remote_name == "simulate-research-query")
    assert research.unavailable == TASKS_UNSUPPORTED
    assert research not in hub.tools()
    assert hub.call("every", "echo", {"message": "hi there"}, timeout=30).text.endswith("hi there")
    seen: list[float] = []
    done = hub.call(
        "every",
        "trigger-long-running-operation",
        {"duration": 1, "steps": 4},
        timeout=30,
        progress=lambda progress, total, message: seen.append(progress),
    )
    assert not done.is_error
    assert seen == [1, 2, 3, 4]


def test_server_everything_over_the_older_sse_transport(tmp_path: Path, hubs: list[McpHub]) -> None:
    command = npm_server("mcp-server-everything")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [command, "sse"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        hub = started(tmp_path, McpServerConfig(name="old", url=f"http://127.0.0.1:{port}/sse"))
        hubs.append(hub)
        assert hub.states()[0].transport == "sse"
        total = hub.call("old", "get-sum", {"a": 19, "b": 23}, timeout=30)
        assert "42" in total.text
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_server_filesystem_lists_and_reads_in_a_session(tmp_path: Path) -> None:
    command = npm_server("mcp-server-filesystem")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "todo.md").write_text("- buy milk\n", encoding="utf-8")
    server = McpServerConfig(name="files", command=command, args=(str(shared),))
    kit = ToolKit(tmp_path, answers=["y", "a"], servers=[server])
    try:
        assert kit.hub is not None and kit.hub.wait_started(60)
        path = json.dumps({"path": str(shared)})
        read = json.dumps({"path": str(shared / "todo.md")})
        backend = ScriptedBackend(
            [
                reply(tool_calls=[("files__list_directory", path)]),
                reply(tool_calls=[("files__read_text_file", read)]),
                reply("Buy milk."),
            ]
        )
        session = tool_session(backend, kit, persona="default")
        result = session.send("what is on my list?", renderer=RecordingRenderer())

        assert result.reply.content == "Buy milk."
        listing, content = [m.content for m in session.conversation.messages if m.role is Role.TOOL]
        assert "todo.md" in listing and "buy milk" in content
        lines = tool_status_lines(
            kit.toolbox, persona=load_personas().get("default"), model="m", width=72
        )
        assert "  files (stdio, asks first): ready" in lines
        assert all(len(line) <= 72 for line in lines if line.startswith("      files__"))
    finally:
        kit.close()
