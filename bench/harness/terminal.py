"""Process timing and terminal plumbing: children in a 40x120 pty, or down a pipe.

Every byte a child writes to its pseudo-terminal is read and counted as it arrives,
and cursor-position queries are answered as a terminal would; CPU time is the child's
own user + system time, from ``os.wait4``.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "COLS",
    "ROWS",
    "BenchError",
    "ProcessRun",
    "Step",
    "require_success",
    "run_in_pipe",
    "run_in_pty",
]

ROWS, COLS = 40, 120
_CPR_REQUEST = b"\x1b[6n"
_KEPT_BYTES = 4096


class BenchError(Exception):
    """A child misbehaved (timed out, failed, or never showed what was expected)."""


@dataclass(frozen=True, kw_only=True)
class Step:
    """Wait until ``expect`` appears on the terminal, then type ``send``."""

    expect: bytes
    send: bytes = b""


@dataclass(frozen=True, kw_only=True)
class ProcessRun:
    """One child from launch to exit. Times are ``time.monotonic()`` values."""

    started: float
    exited: float
    last_byte: float
    cpu: float
    out_bytes: int
    status: int
    marks: tuple[float, ...]
    output: bytes

    @property
    def wall(self) -> float:
        """Seconds from launch until the child was reaped."""
        return self.exited - self.started

    def mark(self, index: int) -> float:
        """Seconds from launch until step ``index`` saw its text."""
        return self.marks[index] - self.started


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, float, float]:
    """Wait for ``proc``; return its exit code, CPU seconds and the time it was reaped."""
    _, status, usage = os.wait4(proc.pid, 0)
    exited = time.monotonic()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, exited


def run_in_pty(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    steps: Sequence[Step] = (),
    timeout: float,
) -> ProcessRun:
    """Run ``argv`` with a 40x120 pseudo-terminal as stdin, stdout and stderr.

    Every byte the child writes is read and counted as it arrives; cursor-position
    queries are answered, as prompt_toolkit waits a while for them otherwise. Only the
    last few KB of output are kept, for error messages.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        os.close(slave)
    pending = list(steps)
    marks: list[float] = []
    seen = bytearray()
    kept = b""
    total = 0
    last_byte = started
    tail = b""
    deadline = started + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(proc.pid, signal.SIGKILL)
                raise BenchError(f"{argv[-1]!r} took over {timeout:g}s (killed)")
            readable, _, _ = select.select([master], [], [], min(remaining, 1.0))
            if not readable:
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                break  # EIO: the child has exited and the terminal is drained
            if not data:
                break
            last_byte = time.monotonic()
            total += len(data)
            kept = (kept + data)[-_KEPT_BYTES:]
            if _CPR_REQUEST in tail + data:
                os.write(master, b"\x1b[%d;1R" % ROWS)
            tail = data[-3:]
            if pending:
                seen += data
                while pending and (found := seen.find(pending[0].expect)) >= 0:
                    marks.append(last_byte)
                    del seen[: found + len(pending[0].expect)]
                    if pending[0].send:
                        os.write(master, pending[0].send)
                    pending.pop(0)
    finally:
        os.close(master)
        status, cpu, exited = _reap(proc)
    if pending:
        raise BenchError(f"{argv[-1]!r} exited ({status}) without showing {pending[0].expect!r}")
    return ProcessRun(
        started=started,
        exited=exited,
        last_byte=last_byte,
        cpu=cpu,
        out_bytes=total,
        status=status,
        marks=tuple(marks),
        output=kept,
    )


def run_in_pipe(argv: Sequence[str], *, env: dict[str, str], cwd: Path) -> ProcessRun:
    """Run ``argv`` with stdout and stderr a pipe and stdin empty, as in a script."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    last_byte = time.monotonic()
    proc.stdout.close()
    status, cpu, exited = _reap(proc)
    return ProcessRun(
        started=started,
        exited=exited,
        last_byte=last_byte,
        cpu=cpu,
        out_bytes=len(output),
        status=status,
        marks=(),
        output=output,
    )


def require_success(run: ProcessRun, *, what: str) -> ProcessRun:
    """``run`` if it exited 0, else a ``BenchError`` with the end of its output."""
    if run.status != 0:
        text = run.output.decode(errors="replace")[-800:]
        raise BenchError(f"{what} exited with status {run.status}: {text}")
    return run
