"""What every case is given: the sizes, the clean environment, and ``Bench``.

``Bench`` holds one run's sizes, server, environment and report, and knows how to
launch chatbot, the baseline clients and the workers in that environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness.server import BenchServer, worker_command
from bench.harness.terminal import (
    BenchError,
    ProcessRun,
    Step,
    require_success,
    run_in_pipe,
    run_in_pty,
)
from bench.report import Report

__all__ = ["API_KEY", "FULL", "PROMPT", "QUICK", "Bench", "Sizes", "environment"]

# prompt_toolkit draws the prompt without its trailing space (it moves the cursor).
PROMPT = "›".encode()
API_KEY = "sk-bench-not-a-secret"
_NAIVE = Path(__file__).resolve().parents[1] / "naive.py"


@dataclass(frozen=True, kw_only=True)
class Sizes:
    """How big and how often; ``--quick`` shrinks everything for the smoke test."""

    startup_runs: int
    oneshot_runs: int
    render_tokens: tuple[int, int]
    render_runs: int
    paced_tokens: int
    paced_rate: float
    paced_runs: int
    #: A reasoning model's reply: (thinking, answer) tokens, paced at ``paced_rate``.
    thinking_tokens: tuple[int, int]
    thinking_runs: int
    trim_sizes: tuple[int, int, int]
    memory_turns: int
    memory_reply_tokens: int
    #: The web chat: clients streaming at once, each reply's length and tokens, and
    #: browser runs for the time from the model's first byte to the page.
    web_clients: int
    web_reply_seconds: float
    web_reply_tokens: int
    web_page_runs: int
    #: Discarded first rounds (warm file caches), and runs to find the paced delay.
    warm_up_rounds: int
    calibration_rounds: int
    timeout: float


FULL = Sizes(
    startup_runs=7,
    oneshot_runs=7,
    render_tokens=(2000, 8000),
    render_runs=5,
    paced_tokens=8000,
    paced_rate=2000.0,
    paced_runs=3,
    thinking_tokens=(4000, 2000),
    thinking_runs=3,
    trim_sizes=(1000, 5000, 10000),
    memory_turns=500,
    memory_reply_tokens=200,
    web_clients=200,
    web_reply_seconds=5.0,
    web_reply_tokens=250,
    web_page_runs=3,
    warm_up_rounds=1,
    calibration_rounds=3,
    timeout=900.0,
)
QUICK = Sizes(
    startup_runs=1,
    oneshot_runs=1,
    render_tokens=(40, 120),
    render_runs=1,
    paced_tokens=120,
    paced_rate=2000.0,
    paced_runs=1,
    thinking_tokens=(120, 60),
    thinking_runs=1,
    trim_sizes=(100, 500, 1000),
    memory_turns=8,
    memory_reply_tokens=50,
    web_clients=10,
    web_reply_seconds=1.0,
    web_reply_tokens=50,
    web_page_runs=1,
    warm_up_rounds=0,
    calibration_rounds=1,
    timeout=30.0,
)


def environment(home: Path) -> dict[str, str]:
    """A clean environment: nothing of the user's configuration leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "OPENAI_API_KEY": API_KEY,
        "CHATBOT_CONFIG_DIR": str(home / "config"),
        "CHATBOT_DATA_DIR": str(home / "data"),
        "CHATBOT_LOCAL": "0",
    }
    return env


@dataclass(kw_only=True)
class Bench:
    """One run's sizes, server, clean environment and report, and how to run children."""

    sizes: Sizes
    server: BenchServer
    env: dict[str, str]
    cwd: Path
    report: Report

    @property
    def chatbot(self) -> list[str]:
        """The installed ``chatbot`` script next to this Python, else ``python -m chatbot``."""
        script = Path(sys.executable).with_name("chatbot")
        return [str(script)] if script.exists() else [sys.executable, "-m", "chatbot"]

    def naive(self, mode: str, question: str, *extra: str) -> list[str]:
        """argv for a baseline client (``bench/naive.py``, run as a script)."""
        return [
            sys.executable,
            str(_NAIVE),
            mode,
            "--base-url",
            self.server.base_url,
            "--api-key",
            API_KEY,
            "--question",
            question,
            *extra,
        ]

    def pty(
        self,
        argv: Sequence[str],
        *,
        steps: Sequence[Step] = (),
        env: Mapping[str, str] | None = None,
    ) -> ProcessRun:
        """Run ``argv`` in a pty (see ``run_in_pty``); it must exit 0. ``env`` adds variables."""
        run = run_in_pty(
            argv,
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            steps=steps,
            timeout=self.sizes.timeout,
        )
        return require_success(run, what=argv[-1])

    def pipe(self, argv: Sequence[str]) -> ProcessRun:
        """Run ``argv`` down a pipe (see ``run_in_pipe``); it must exit 0."""
        return require_success(run_in_pipe(argv, env=self.env, cwd=self.cwd), what=argv[-1])

    def worker(self, *args: str) -> dict[str, Any]:
        """Run ``python -m bench --worker ARGS``; return the JSON it prints."""
        argv, env = worker_command(*args, env=self.env)
        done = subprocess.run(
            argv,
            env=env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=self.sizes.timeout,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"worker {args[0]} failed: {done.stderr[-1500:]}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result
