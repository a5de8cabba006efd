"""MCP servers for real: the tests' SDK server over stdio, through the hub and a session."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="needs the 'mcp' extra")

from chatbot.api.scripted import ScriptedBackend, reply
from chatbot.conversation.messages import Role
from chatbot.settings.tool_config import McpServerConfig
from chatbot.tools.mcp_hub import McpCallFailed, McpHub
from tests.support.helpers import RecordingRenderer
from tests.support.toolkit import MCP_SERVER, ToolKit, mcp_config, tool_session


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def wait_for_file(path: Path, seconds: float = 20.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


@pytest.fixture
def hubs(tmp_path: Path) -> Iterator[list[McpHub]]:
    made: list[McpHub] = []
    yield made
    for hub in made:
        hub.close()


def started(hubs: list[McpHub], tmp_path: Path, *servers: McpServerConfig) -> McpHub:
    hub = McpHub(servers, log_dir=tmp_path / "logs")
    hubs.append(hub)
    hub.start_in_background()
    assert hub.wait_started(30), [s.status for s in hub.states()]
    return hub


def test_a_server_starts_lists_its_tools_answers_and_stops(
    hubs: list[McpHub], tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    hub = started(hubs, tmp_path, mcp_config(env={"MCP_PID_FILE": str(pid_file)}))

    (state,) = hub.states()
    assert state.status == "ready"
    assert {t.name for t in hub.tools()} >= {"demo__add", "demo__shout", "demo__slow"}
    add = next(t for t in hub.tools() if t.name == "demo__add")
    assert add.remote_name == "add" and add.parameters["required"] == ["a", "b"]
    assert hub.call("demo", "add", {"a": 2, "b": 40}, timeout=10).text == "42"
    refused = hub.call("demo", "shout", {"text": "hi", "times": 9}, timeout=10)
    assert refused.is_error and "between 1 and 5" in refused.text

    server_pid = int(pid_file.read_text())
    hub.close()
    assert gone_within(server_pid, 5)


def test_a_server_that_cannot_start_is_one_notice_and_the_others_go_on(
    hubs: list[McpHub], tmp_path: Path
) -> None:
    hub = started(
        hubs,
        tmp_path,
        McpServerConfig(name="ghost", command="no-such-mcp-server-xyz"),
        mcp_config(),
    )

    states = {s.config.name: s for s in hub.states()}
    assert states["ghost"].status == "failed"
    assert "cannot start no-such-mcp-server-xyz" in states["ghost"].detail
    assert states["demo"].status == "ready"
    (notice,) = hub.pop_notices()
    assert notice.startswith("MCP server 'ghost' could not start") and "\n" not in notice
    assert hub.pop_notices() == []


def test_a_server_that_dies_mid_call_fails_that_call_only(
    hubs: list[McpHub], tmp_path: Path
) -> None:
    hub = started(hubs, tmp_path, mcp_config())

    with pytest.raises(McpCallFailed) as caught:
        hub.call("demo", "die", {}, timeout=10)

    assert "the MCP server 'demo' failed: it exited" in str(caught.value)
    assert hub.states()[0].status == "stopped" and hub.tools() == []
    assert "stopped" in hub.pop_notices()[0]
    with pytest.raises(McpCallFailed, match="not running"):
        hub.call("demo", "add", {"a": 1, "b": 1}, timeout=5)


def test_approval_always_and_trust_in_a_session(tmp_path: Path) -> None:
    kit = ToolKit(
        tmp_path, answers=["a", "n"], servers=[mcp_config(), mcp_config("trusted", trust=True)]
    )
    try:
        assert kit.hub is not None and kit.hub.wait_started(30)
        backend = ScriptedBackend(
            [
                reply(tool_calls=[("demo__add", '{"a": 1, "b": 2}')]),
                reply(
                    tool_calls=[("demo__add", '{"a": 3, "b": 4}'), ("demo__shout", '{"text": "x"}')]
                ),
                reply(tool_calls=[("trusted__add", '{"a": 5, "b": 6}')]),
                reply("3, 7 and 11."),
            ]
        )
        session = tool_session(backend, kit, persona="default")

        result = session.send("add things", renderer=RecordingRenderer())

        assert result.reply.content == "3, 7 and 11." and result.tool_rounds == 3
        assert (
            kit.person is not None and len(kit.person.questions) == 2
        )  # add once (always), shout once
        results = [m.content for m in session.conversation.messages if m.role is Role.TOOL]
        assert results[:2] == ["3", "7"] and "declined" in results[2] and results[3] == "11"
        assert "demo__add wants to run with:" in kit.output
        offered = [t["function"]["name"] for t in backend.requests[0].tools or []]
        assert "demo__add" in offered and "trusted__add" in offered
    finally:
        kit.close()


def test_tool_output_from_a_server_is_capped_and_sanitised(tmp_path: Path) -> None:
    kit = ToolKit(tmp_path, assume_yes=True, servers=[mcp_config()])
    try:
        assert kit.hub is not None and kit.hub.wait_started(30)
        backend = ScriptedBackend(
            [reply(tool_calls=[("demo__noisy", '{"kilobytes": 1024}')]), reply("Noisy.")]
        )
        session = tool_session(backend, kit, persona="default")

        session.send("make noise", renderer=RecordingRenderer())

        sent = str(list(backend.requests[1].messages)[-1]["content"])
        assert sent.startswith("START ") and sent.endswith(" END")
        assert "\x1b" not in sent and "\x07" not in sent
        assert len(sent.encode()) < 17 * 1024
        assert "\x1b" not in kit.output
    finally:
        kit.close()


_ORPHAN_PARENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from chatbot.settings.tool_config import McpServerConfig
    from chatbot.tools.mcp_hub import McpHub
    env = {"MCP_PID_FILE": sys.argv[1]} if sys.argv[1] else {}
    server = McpServerConfig(name="demo", command=sys.argv[2], args=tuple(sys.argv[3:]), env=env)
    hub = McpHub([server], log_dir=Path(sys.argv[0]).parent)
    hub.start_in_background()
    hub.wait_started(30)
    print(hub.states()[0].status, flush=True)
    time.sleep(300)
    """
)


@pytest.mark.parametrize("stubborn", [False, True], ids=["sdk-server", "ignores-stdin-eof"])
def test_no_server_outlives_a_kill_9_of_its_parent(tmp_path: Path, stubborn: bool) -> None:
    pid_file = tmp_path / "pid"
    script = tmp_path / "parent.py"
    script.write_text(_ORPHAN_PARENT, encoding="utf-8")
    if stubborn:
        # Ignores SIGTERM, and runs on after the server exits when stdin closes.
        command = [
            "/bin/sh",
            "-c",
            f"trap '' TERM; echo $$ > {pid_file}; {sys.executable} {MCP_SERVER} demo; sleep 300",
        ]
    else:
        command = [sys.executable, MCP_SERVER, "demo"]
    parent = subprocess.Popen(
        [sys.executable, str(script), "" if stubborn else str(pid_file), *command],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "ready"
        server_pid = int(wait_for_file(pid_file))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert gone_within(server_pid, 5), f"pid {server_pid} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_the_tool_list_the_model_sees_is_valid_json_schema(
    hubs: list[McpHub], tmp_path: Path
) -> None:
    hub = started(hubs, tmp_path, mcp_config())
    for spec in hub.tools():
        entry = spec.to_openai()
        json.dumps(entry)
        assert entry["function"]["parameters"]["type"] == "object"


def test_a_server_over_streamable_http(hubs: list[McpHub], tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = subprocess.Popen(
        [sys.executable, MCP_SERVER, "web"],
        env={**os.environ, "MCP_HTTP_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        hub = started(
            hubs, tmp_path, McpServerConfig(name="web", url=f"http://127.0.0.1:{port}/mcp")
        )

        assert hub.states()[0].status == "ready", hub.states()[0].detail
        assert "web__add" in {t.name for t in hub.tools()}
        assert hub.call("web", "add", {"a": 1, "b": 41}, timeout=10).text == "42"
    finally:
        http.terminate()
        http.wait(timeout=10)
