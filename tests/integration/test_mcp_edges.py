"""The rest of the MCP protocol (issue 23), with the tests' real SDK server.

Tasks-only tools, progress tokens, slow starts, a server over HTTP that dies mid-call,
the older HTTP+SSE transport, the SDK's own log lines, call numbers after Ctrl-C, a
result cut to 16 KB, ``/tools`` fitted to the terminal and a ``config.toml`` that
holds MCP secrets.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="needs the 'mcp' extra")

from rich.console import Console

from chatbot.api.scripted import ScriptedBackend, reply
from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.repl.commands.tool_commands import tool_status_lines
from chatbot.settings.personas import load_personas
from chatbot.settings.tool_config import McpServerConfig
from chatbot.tools.display import ToolConsole
from chatbot.tools.mcp_hub import TASKS_UNSUPPORTED, McpHub
from tests.support.fakeserver import FakeOpenAIServer, FakeToolCall, Reply
from tests.support.helpers import RecordingRenderer, run_chatbot
from tests.support.toolkit import CTRL_C, MCP_SERVER, ToolKit, mcp_config, tool_session

KILOBYTE = 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


class HttpServer:
    """The tests' MCP server in its own process, over streamable HTTP or HTTP+SSE."""

    def __init__(self, name: str, *, env: Mapping[str, str]) -> None:
        self.port = free_port()
        variables = {key: value.format(port=self.port) for key, value in env.items()}
        self.process = subprocess.Popen(
            [sys.executable, MCP_SERVER, name],
            env={**os.environ, **variables},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server = HttpServer("web", env={"MCP_HTTP_PORT": "{port}"})
    yield server
    server.stop()


def started(tmp_path: Path, *servers: McpServerConfig) -> McpHub:
    hub = McpHub(servers, log_dir=tmp_path / "logs")
    hub.start_in_background()
    assert hub.wait_started(30), [s.status for s in hub.states()]
    return hub


def offered_names(backend: ScriptedBackend, request: int = -1) -> list[str]:
    return [t["function"]["name"] for t in backend.requests[request].tools or []]


# -- tools that run only as MCP tasks ---------------------------------------------------


def test_a_tool_that_runs_only_as_a_task_is_not_offered_and_tools_says_why(
    tmp_path: Path,
) -> None:
    kit = ToolKit(tmp_path, assume_yes=True, servers=[mcp_config()])
    try:
        assert kit.hub is not None and kit.hub.wait_started(30)
        backend = ScriptedBackend([reply("Fine.")])
        session = tool_session(backend, kit, persona="default")
        session.send("hello", renderer=RecordingRenderer())

        assert "demo__batch_job" not in offered_names(backend)
        assert "demo__add" in offered_names(backend)
        lines = tool_status_lines(
            kit.toolbox, persona=load_personas().get("default"), model="m", width=200
        )
        (line,) = [line for line in lines if "demo__batch_job" in line]
        assert line.strip() == f"demo__batch_job ({TASKS_UNSUPPORTED})"
    finally:
        kit.close()


# -- progress -------------------------------------------------------------------------


def test_a_call_sends_a_progress_token_and_gets_the_servers_progress(tmp_path: Path) -> None:
    hub = started(tmp_path, mcp_config())
    try:
        seen: list[tuple[float, float | None, str | None]] = []
        result = hub.call(
            "demo", "steps", {"count": 3}, timeout=10, progress=lambda *p: seen.append(p)
        )
        assert result.text == "3 steps done"
        assert seen == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    finally:
        hub.close()


def test_the_calls_line_shows_progress_and_the_elapsed_time_on_a_terminal() -> None:
    out = io.StringIO()
    now = [100.0]
    console = ToolConsole(
        console=Console(file=out, width=80, force_terminal=True, color_system=None),
        tick=None,
        clock=lambda: now[0],
    )
    console.start(1, "demo__steps", '{"count": 3}')
    now[0] += 4.2
    console.progress(2, 3, "step 2")
    console.progress(40, 100, None)
    console.finish("22 B in 4.2s")
    shown = out.getvalue()
    assert '\r\x1b[2K⚙ #1 demo__steps {"count": 3} … 4s · 2/3 step 2' in shown
    assert "… 4s · 40%" in shown
    # The final line is the plain one, without the progress.
    assert shown.endswith('\r\x1b[2K⚙ #1 demo__steps {"count": 3} … 22 B in 4.2s\n')


def test_off_a_terminal_the_calls_line_stays_one_plain_line() -> None:
    out = io.StringIO()
    console = ToolConsole(console=Console(file=out, width=80, color_system=None))
    console.start(1, "demo__steps", "")
    console.progress(1, 3, "step 1")
    console.finish("22 B in 0.2s")
    assert out.getvalue() == "⚙ #1 demo__steps … 22 B in 0.2s\n"


# -- a slow start ---------------------------------------------------------------------


def test_a_slow_server_is_waited_for_once_then_its_tools_come_when_ready(tmp_path: Path) -> None:
    slow = mcp_config("slowpoke", env={"MCP_START_DELAY": "2"})
    kit = ToolKit(tmp_path, assume_yes=True, servers=[slow])
    kit.toolbox._start_wait = 0.3
    try:
        backend = ScriptedBackend([reply("One."), reply("Two."), reply("Three.")])
        session = tool_session(backend, kit, persona="default")
        session.send("first", renderer=RecordingRenderer())
        session.send("second", renderer=RecordingRenderer())

        assert kit.output.count("waiting for the MCP servers to start") == 1
        assert kit.output.count("going on without them") == 1
        assert not any(name.startswith("slowpoke__") for name in offered_names(backend))
        assert kit.hub is not None and kit.hub.wait_started(30)
        session.send("third", renderer=RecordingRenderer())
        assert "slowpoke__add" in offered_names(backend)
        assert kit.output.count("waiting for") == 1
    finally:
        kit.close()


# -- a server over HTTP that dies mid-call --------------------------------------------


def test_an_http_server_that_dies_mid_call_is_noticed_at_once(
    tmp_path: Path, http_server: HttpServer
) -> None:
    web = McpServerConfig(name="web", url=http_server.url("/mcp"))
    # One approval: a second question would mean its tools were offered again.
    kit = ToolKit(tmp_path, answers=["y"], servers=[web])
    try:
        assert kit.hub is not None and kit.hub.wait_started(30)
        backend = ScriptedBackend(
            [reply(tool_calls=[("web__die", "{}")]), reply("It died."), reply("Without it.")]
        )
        session = tool_session(backend, kit, persona="default")
        session.send("kill it", renderer=RecordingRenderer())
        (state,) = kit.hub.states()
        assert state.status == "stopped"
        assert "MCP server 'web' stopped" in kit.output

        session.send("and now?", renderer=RecordingRenderer())
        assert offered_names(backend) == []
        assert kit.person is not None and len(kit.person.questions) == 1
        result = next(m for m in session.conversation.messages if m.role is Role.TOOL)
        assert result.content.startswith("error: the MCP server 'web' failed")
    finally:
        kit.close()


def test_no_sdk_log_line_reaches_the_terminal_in_one_shot(
    tmp_path: Path, http_server: HttpServer, server: FakeOpenAIServer
) -> None:
    config = Path(os.environ["CHATBOT_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(
        f'[mcp_servers.web]\nurl = "{http_server.url("/mcp")}"\ntrust = true\n', encoding="utf-8"
    )
    server.enqueue(
        Reply(text="", tool_calls=(FakeToolCall("web__die"),)), Reply(text="It is gone.")
    )
    result = run_chatbot("--raw", "--yes", "stop the server", server=server)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "It is gone.\n"
    assert "Session termination failed" not in result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert all(line.startswith(("⚙", "MCP server", "waiting")) for line in lines), lines


# -- the older HTTP+SSE transport ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "words"), [("/sse", "HTTP+SSE"), ("/events", "HTTP+SSE, found by itself")]
)
def test_a_server_on_the_older_sse_transport_is_used(tmp_path: Path, path: str, words: str) -> None:
    sse = HttpServer("old", env={"MCP_SSE_PORT": "{port}", "MCP_SSE_PATH": path})
    kit = ToolKit(
        tmp_path, assume_yes=True, servers=[McpServerConfig(name="old", url=sse.url(path))]
    )
    try:
        assert kit.hub is not None and kit.hub.wait_started(30)
        (state,) = kit.hub.states()
        assert state.status == "ready", state.detail
        assert kit.hub.call("old", "add", {"a": 20, "b": 22}, timeout=10).text == "42"
        lines = tool_status_lines(
            kit.toolbox, persona=load_personas().get("default"), model="m", width=120
        )
        assert f"  old ({words}, asks first): ready" in lines
    finally:
        kit.close()
        sse.stop()


def test_a_url_that_speaks_no_mcp_says_why_in_one_notice(
    tmp_path: Path, server: FakeOpenAIServer
) -> None:
    hub = McpHub(
        [McpServerConfig(name="nothing", url=f"http://127.0.0.1:{server.port}/nowhere")],
        log_dir=tmp_path / "logs",
    )
    hub.start_in_background()
    try:
        assert hub.wait_started(30)
        (state,) = hub.states()
        assert state.status == "failed"
        (notice,) = hub.pop_notices()
        assert notice.startswith("MCP server 'nothing' could not start") and "\n" not in notice
    finally:
        hub.close()


# -- call numbers, cut results, /tools width ------------------------------------------


def test_call_numbers_count_only_the_calls_the_user_saw(tmp_path: Path) -> None:
    kit = ToolKit(tmp_path, answers=[CTRL_C, "y"], servers=[mcp_config()])
    try:
        assert kit.hub is not None and kit.hub.wait_started(30)
        backend = ScriptedBackend(
            [
                reply(
                    tool_calls=[
                        ("demo__add", '{"a": 1, "b": 2}'),
                        ("demo__add", '{"a": 3, "b": 4}'),
                    ]
                ),
                reply(tool_calls=[("demo__add", '{"a": 5, "b": 6}')]),
                reply("Eleven."),
            ]
        )
        session = tool_session(backend, kit, persona="default")
        session.send("two sums", renderer=RecordingRenderer())
        session.send("one sum", renderer=RecordingRenderer())

        assert "⚙ #1 demo__add → cancelled" in kit.output
        assert "⚙ #2 demo__add" in kit.output and "#3" not in kit.output
        statuses = [m.status for m in session.conversation.messages if m.role is Role.TOOL]
        assert statuses == [ReplyStatus.INTERRUPTED, ReplyStatus.NOT_RUN, ReplyStatus.COMPLETE]
    finally:
        kit.close()


def test_a_result_cut_to_16_kb_says_so_on_its_line(tmp_path: Path) -> None:
    kit = ToolKit(tmp_path, assume_yes=True, servers=[mcp_config()])
    try:
        assert kit.hub is not None and kit.hub.wait_started(30)
        backend = ScriptedBackend(
            [reply(tool_calls=[("demo__noisy", '{"kilobytes": 1024}')]), reply("Noisy.")]
        )
        tool_session(backend, kit, persona="default").send("noise", renderer=RecordingRenderer())
        assert "16.0 KB kept of 1.0 MB in" in kit.output
    finally:
        kit.close()


@pytest.mark.parametrize("width", [40, 60, 100])
def test_tools_lines_fit_the_terminal(tmp_path: Path, width: int) -> None:
    hub = started(tmp_path, mcp_config())
    kit = ToolKit(tmp_path, assume_yes=True)
    kit.toolbox.hub = hub
    try:
        lines = tool_status_lines(
            kit.toolbox, persona=load_personas().get("default"), model="m", width=width
        )
        tool_lines = [line for line in lines if line.startswith("      demo__")]
        assert len(tool_lines) >= 6
        assert all(len(line) <= width for line in tool_lines)
        wide = tool_status_lines(
            kit.toolbox, persona=load_personas().get("default"), model="m", width=200
        )
        add = next(line for line in wide if line.startswith("      demo__add "))
        assert add.endswith("Add two integers and return the sum.")
    finally:
        hub.close()


# -- config.toml that holds MCP secrets ---------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o600])
def test_a_config_with_mcp_secrets_readable_by_others_is_warned_about(
    server: FakeOpenAIServer, mode: int
) -> None:
    config = Path(os.environ["CHATBOT_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    path = config / "config.toml"
    token = "tok-4Hq9Zr2Lw8Vn"
    path.write_text(
        '[mcp_servers.search]\nurl = "http://127.0.0.1:9/mcp"\n'
        f'headers = {{ Authorization = "Bearer {token}" }}\n',
        encoding="utf-8",
    )
    path.chmod(mode)
    result = run_chatbot("--raw", "--no-tools", "hello", server=server)
    assert result.returncode == 0, result.stderr
    warning = (
        f"warning: {path} holds MCP server env or headers and is readable by other users; "
        f"run: chmod 600 {path}"
    )
    assert result.stderr.splitlines() == ([warning] if mode == 0o644 else [])
    assert token not in result.stderr + result.stdout


def test_no_librarys_log_record_reaches_the_terminal_of_the_real_command() -> None:
    script = (
        "import logging, sys\n"
        "sys.argv = ['chatbot', '--version']\n"
        "from chatbot.cli.main import main\n"
        "code = main()\n"
        "logging.getLogger('httpx2').warning('LEAKED LIBRARY WARNING')\n"
        "logging.getLogger('mcp.client.streamable_http').error('LEAKED SDK ERROR')\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "LEAKED" not in result.stderr + result.stdout
