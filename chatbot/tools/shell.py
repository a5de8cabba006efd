"""The built-in ``shell`` tool: one command, approved by the user, run with no terminal.

The command runs under ``/bin/sh -c`` in a new session (its own process group,
no controlling terminal), with stdin closed and a time limit; the whole group
is stopped on timeout or Ctrl-C. stdout and stderr are merged and capped at
16 KB (head and tail). The API key and any password in the server URL are not
in its environment, anything it leaves running is stopped, and it never
elevates itself: a command that asks for ``sudo`` (or ``su``, ``doas``,
``pkexec``) is refused, so the model must hand such a command to the user.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import select
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from chatbot.tools.output import HeadTail


__all__ = [
    "DEFAULT_TIMEOUT",
    "ShellResult",
    "elevation_in",
    "run_shell",
    "shell_environment",
]

DEFAULT_TIMEOUT = 30.0
_GRACE_SECONDS = 1.0
_READ_BYTES = 65536

# A command word in a position where the shell would run it: at the start or after a
# separator, past variable assignments and prefix commands such as env, nohup or time.
_ELEVATE = (
    r"(?:^|[;&|(`\n]|\$\()\s*"
    r"(?:(?:then|do|else|exec|env|nohup|time|command|builtin|xargs|nice|timeout\s+\S+)\s+"
    r"|[A-Za-z_]\w*=\S*\s+|-\S+\s+)*"
    r"(?:\S*/)?(sudo|su|doas|pkexec|run0)(?=\s|$|[;&|)])"
)


@functools.cache
def _elevate() -> re.Pattern[str]:
    # Compiled on first use: this module loads before the prompt, the pattern is not needed then.
    return re.compile(_ELEVATE)


def elevation_in(command: str) -> str | None:
    """The elevating program ``command`` would run (``sudo`` …), if any."""
    match = _elevate().search(command)
    return match.group(1) if match else None


@dataclass(frozen=True, kw_only=True, slots=True)
class ShellResult:
    """What one command did: its capped, sanitised output and how it ended."""

    output: str
    exit_status: int | None
    timed_out: bool
    seconds: float
    total_bytes: int

    def for_model(self) -> str:
        """The text the model is sent: the output and a line on how the command ended."""
        if self.timed_out:
            ending = "[the command was stopped: it ran longer than the time limit]"
        elif self.exit_status is not None and self.exit_status < 0:
            ending = f"[the command was killed by signal {-self.exit_status}]"
        else:
            ending = f"[exit status {self.exit_status}]"
        body = self.output if self.output.strip() else "(no output)"
        return f"{body.rstrip()}\n{ending}"


def shell_environment(
    environ: Mapping[str, str], *, secrets: Iterable[str] = (), base_urls: Iterable[str] = ()
) -> dict[str, str]:
    """``environ`` without the API key or any server URL's password.

    Any variable whose value contains a secret is left out, whatever its name.
    """
    hidden = {s for s in secrets if s and len(s) >= 4}
    for url in base_urls:
        password = _url_password(url)
        if password:
            hidden.add(password)
    env: dict[str, str] = {}
    for name, value in environ.items():
        if name == "OPENAI_API_KEY" or any(secret in value for secret in hidden):
            continue
        env[name] = value
    # No pager or editor can wait for a terminal that is not there.
    env.update(PAGER="cat", GIT_PAGER="cat", SYSTEMD_PAGER="", TERM="dumb")
    env.pop("SUDO_ASKPASS", None)
    return env


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def run_shell(
    command: str, *, env: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT
) -> ShellResult:
    """Run ``command``; KeyboardInterrupt stops its whole process group and propagates."""
    from chatbot.tools.mcp_launch import watched_command
    from chatbot.tools.output import OUTPUT_LIMIT, HeadTail

    started = time.monotonic()
    kept = HeadTail(OUTPUT_LIMIT)
    # Under the watchdog, so a kill -9 of the chatbot still stops the command.
    program, arguments = watched_command("/bin/sh", ["-c", command])
    process = subprocess.Popen(
        [program, *arguments],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        # A new session: its own process group, and no controlling terminal.
        start_new_session=True,
        close_fds=True,
    )
    assert process.stdout is not None
    timed_out = False
    try:
        with _sigterm_raises():
            timed_out = _collect(process, kept, deadline=started + timeout)
    except BaseException:
        _stop_group(process)
        raise
    finally:
        process.stdout.close()
    return ShellResult(
        output=kept.text(),
        exit_status=process.returncode,
        timed_out=timed_out,
        seconds=time.monotonic() - started,
        total_bytes=kept.total,
    )


def _collect(process: subprocess.Popen[bytes], kept: HeadTail, *, deadline: float) -> bool:
    """Read the output until the command ends; True if it ran out of time (and was stopped)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _stop_group(process)
            return True
        readable, _, _ = select.select([fd], [], [], min(remaining, 0.2))
        if not readable:
            continue
        data = os.read(fd, _READ_BYTES)
        if not data:
            break  # every writer closed the pipe
        kept.feed(data)
    try:
        process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _stop_group(process)
        return True
    _kill_leftovers(process)
    return False


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While a command runs, SIGTERM unwinds through ``finally`` so the command is stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield  # someone already handles it (the local model's handler raises SystemExit too)
        return

    def leave(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _kill_leftovers(process: subprocess.Popen[bytes]) -> None:
    """Stop what the command left running in its group (``cmd &``): no orphans."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the command's process group, SIGKILL after a second."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=_GRACE_SECONDS)
            if sig == signal.SIGTERM:
                # The leader is gone; anything it left in the group goes too.
                os.killpg(process.pid, signal.SIGKILL)
            break
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            break
    if process.returncode is None:
        process.wait()
