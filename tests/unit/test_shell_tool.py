"""The built-in shell tool: capped, sanitised, time-limited, without a terminal or secrets."""

from __future__ import annotations

import _thread
import os
import threading
import time
from pathlib import Path

import pytest

from chatbot.tools.shell import elevation_in, run_shell, shell_environment

KEY = "sk-proj-shellsecret0123456789"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone in every way that matters; /proc tells them apart.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def wait_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def env() -> dict[str, str]:
    return shell_environment(os.environ, secrets=[KEY], base_urls=[])


def test_output_and_exit_status_come_back_with_escape_sequences_removed() -> None:
    result = run_shell(
        "echo one; printf '\\033]52;c;ZXZpbA==\\007\\033[2Jtwo\\n' >&2; exit 3", env=env()
    )

    assert result.output == "one\ntwo\n"
    assert result.exit_status == 3 and not result.timed_out
    assert result.for_model().endswith("[exit status 3]")


def test_a_megabyte_of_output_is_capped_to_head_and_tail() -> None:
    result = run_shell(
        "echo FIRST; head -c 1048576 /dev/zero | tr '\\0' 'x'; echo; echo LAST", env=env()
    )

    assert result.total_bytes > 1_000_000
    assert result.output.startswith("FIRST") and result.output.rstrip().endswith("LAST")
    assert len(result.output.encode()) < 17 * 1024


def test_there_is_no_terminal_and_stdin_is_closed() -> None:
    started = time.monotonic()
    result = run_shell("tty; cat; read line; echo read=$?", env=env(), timeout=10)

    assert "not a tty" in result.output
    assert "read=1" in result.output  # EOF at once: nothing waits for input
    assert time.monotonic() - started < 5


def test_the_api_key_and_the_url_password_are_not_in_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OTHER_COPY", f"Bearer {KEY}")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://me:hunter2pass@proxy.example/v1")
    monkeypatch.setenv("KEEP_ME", "visible")
    shell_env = shell_environment(
        os.environ, secrets=[KEY], base_urls=["http://me:hunter2pass@proxy.example/v1"]
    )

    result = run_shell("env", env=shell_env)

    assert "KEEP_ME=visible" in result.output
    assert KEY not in result.output and "hunter2pass" not in result.output


def test_a_command_past_its_time_limit_is_stopped_with_everything_it_started(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    result = run_shell(f"sleep 60 & echo $! > {pids}; sleep 60", env=env(), timeout=0.5)

    assert result.timed_out and time.monotonic() - started < 4
    assert "longer than the time limit" in result.for_model()
    assert wait_gone(int(pids.read_text()))


def test_what_a_finished_command_leaves_running_is_stopped(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    result = run_shell(f"sleep 60 >/dev/null 2>&1 & echo $! > {pids}; echo done", env=env())

    assert result.output == "done\n" and result.exit_status == 0
    assert wait_gone(int(pids.read_text()))


def test_ctrl_c_stops_the_command_and_its_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    threading.Timer(0.5, _thread.interrupt_main).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_shell(f"sleep 60 & echo $! > {pids}; sleep 60", env=env(), timeout=30)

    assert time.monotonic() - started < 4
    assert wait_gone(int(pids.read_text()))


@pytest.mark.parametrize(
    ("command", "elevates"),
    [
        ("sudo ls", "sudo"),
        ("ls && sudo rm -rf /tmp/x", "sudo"),
        ("echo hi | sudo tee /etc/x", "sudo"),
        ("/usr/bin/sudo id", "sudo"),
        ("env FOO=1 sudo id", "sudo"),
        ("LANG=C sudo -n id", "sudo"),
        ("timeout 5 sudo id", "sudo"),
        ("nohup sudo id", "sudo"),
        ("x=$(sudo cat /etc/shadow)", "sudo"),
        ("doas reboot", "doas"),
        ("su - root", "su"),
        ("pkexec id", "pkexec"),
        ("grep sudo /var/log/auth.log", None),
        ("echo 'use sudo'", None),
        ("ls /usr/bin/sudoedit-notes", None),
        ("summary", None),
    ],
)
def test_elevating_commands_are_recognised(command: str, elevates: str | None) -> None:
    assert elevation_in(command) == elevates
