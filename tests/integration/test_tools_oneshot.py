"""Tools in one-shot mode: ``chatbot "question"`` with and without --yes, limits, odd servers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fakeserver import FakeOpenAIServer, FakeToolCall, Reply
from tests.support.faultkit import environment, run_one_shot
from tests.support.helpers import RUN_TIMEOUT, chatbot_executable
from tests.support.toolkit import MCP_SERVER


def shell(command: str) -> FakeToolCall:
    return FakeToolCall("shell", json.dumps({"command": command}))


def test_yes_runs_the_call_and_stdout_keeps_only_the_answer(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(
        Reply(text="Checking. ", tool_calls=[shell("echo up")]), Reply(text="The link is up.")
    )

    run = run_one_shot(
        ["--persona", "it-support", "--yes", "is my link up?"],
        environ=environment(tmp_path, base_url=server.base_url),
    )

    assert run.code == 0
    assert run.stdout == "Checking. \nThe link is up.\n"
    assert "⚙ #1 shell echo up … " in run.stderr and "Traceback" not in run.stderr
    assert "up\n[exit status 0]" in server.chat_requests[1].body["messages"][-1]["content"]


def test_without_yes_and_without_a_terminal_the_call_is_refused_in_one_line(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    server.enqueue(
        Reply(text="", tool_calls=[shell(f"touch {marker}")]), Reply(text="I could not run it.")
    )

    # A new session: no controlling terminal, as under cron or in a CI job.
    run = subprocess.run(
        [chatbot_executable(), "--persona", "it-support", "fix it"],
        input="",
        capture_output=True,
        text=True,
        env={**environment(tmp_path, base_url=server.base_url), "PATH": "/usr/bin:/bin"},
        timeout=RUN_TIMEOUT,
        start_new_session=True,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    assert not marker.exists()
    assert run.stdout == "I could not run it.\n"
    (line,) = run.stderr.splitlines()
    assert line.startswith("⚙ #1 shell touch /")
    assert line.endswith(" → refused: no terminal to ask (--yes allows it)")
    assert "no terminal to ask" in server.chat_requests[1].body["messages"][-1]["content"]


def test_the_round_limit_is_one_line_and_a_failure_status(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.default_reply = Reply(text="", tool_calls=[shell("true")])

    run = run_one_shot(
        ["--persona", "it-support", "--yes", "--max-tool-rounds", "3", "loop"],
        environ=environment(tmp_path, base_url=server.base_url),
    )

    assert run.code == 1
    assert len(server.chat_requests) == 4
    assert run.said == ["chatbot: stopped after 3 tool rounds: the model kept asking for tools"]


def test_eight_rounds_by_default(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.default_reply = Reply(text="", tool_calls=[shell("true")])

    run = run_one_shot(
        ["--persona", "it-support", "--yes", "loop"],
        environ=environment(tmp_path, base_url=server.base_url),
    )

    assert run.code == 1 and len(server.chat_requests) == 9
    assert run.said == ["chatbot: stopped after 8 tool rounds: the model kept asking for tools"]


def test_a_server_without_tools_is_retried_without_them_and_remembered(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.default_reply = Reply(reject_tools=True)
    env = environment(tmp_path, base_url=server.base_url)

    first = run_one_shot(["--persona", "it-support", "hello"], environ=env)
    second = run_one_shot(["--persona", "it-support", "again"], environ=env)

    assert (first.code, first.stdout) == (0, "You said: hello\n")
    (notice,) = first.stderr.splitlines()
    assert "does not take tools" in notice and "asking again without tools" in notice
    assert (second.code, second.stdout, second.stderr) == (0, "You said: again\n", "")
    assert ["tools" in r.body for r in server.chat_requests] == [True, False, False]


def test_no_tools_offers_none(server: FakeOpenAIServer, tmp_path: Path) -> None:
    env = environment(tmp_path, base_url=server.base_url)

    assert run_one_shot(["--persona", "it-support", "--no-tools", "hi"], environ=env).code == 0
    assert (
        run_one_shot(["--persona", "it-support", "hi"], environ={**env, "CHATBOT_TOOLS": "0"}).code
        == 0
    )

    assert all("tools" not in r.body for r in server.chat_requests)


def test_an_mcp_server_from_config_toml_answers_a_call(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    pytest.importorskip("mcp", reason="needs the 'mcp' extra")
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(
        f'[mcp_servers.calc]\ncommand = "{sys.executable}"\nargs = ["{MCP_SERVER}", "calc"]\n',
        encoding="utf-8",
    )
    server.enqueue(
        Reply(text="", tool_calls=[FakeToolCall("calc__add", '{"a": 20, "b": 22}')]),
        Reply(text="It is 42."),
    )

    run = run_one_shot(
        ["--yes", "what is 20 + 22?"], environ=environment(tmp_path, base_url=server.base_url)
    )

    assert run.code == 0, run.stderr
    assert run.stdout == "It is 42.\n"
    offered = [t["function"]["name"] for t in server.chat_requests[0].body["tools"]]
    assert "calc__add" in offered and "shell" not in offered
    assert server.chat_requests[1].body["messages"][-1]["content"] == "42"


def test_a_broken_mcp_server_is_one_line_and_the_answer_still_comes(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    pytest.importorskip("mcp", reason="needs the 'mcp' extra")
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(
        '[mcp_servers.ghost]\ncommand = "no-such-mcp-server-xyz"\n', encoding="utf-8"
    )

    run = run_one_shot(["hello"], environ=environment(tmp_path, base_url=server.base_url))

    assert (run.code, run.stdout) == (0, "You said: hello\n")
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and lines[0] == "waiting for the MCP servers to start…"
    assert lines[1].startswith("MCP server 'ghost' could not start (it exited: cannot start")
    assert "tools" not in server.chat_requests[0].body
