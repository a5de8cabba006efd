"""Running the measured children: sizes, pty and pipe timing, the bench server, workers.

Pieces that must run in a process of their own (the server, and the in-process
ChatSession measurements, so their memory is the session's alone) are hidden
``python -m bench --worker KIND`` runs.

- ``terminal``: process timing, children in a 40x120 pty or down a pipe.
- ``server``: the bench server and how workers are launched.
- ``context``: sizes, the clean environment, and the ``Bench`` every case is given.
"""

from __future__ import annotations

from bench.harness.context import API_KEY, FULL, PROMPT, QUICK, Bench, Sizes, environment
from bench.harness.server import (
    ROOT,
    THINKING_FORMS,
    BenchServer,
    serve,
    spec_question,
    thinking_question,
    worker_command,
)
from bench.harness.terminal import (
    COLS,
    ROWS,
    BenchError,
    ProcessRun,
    Step,
    require_success,
    run_in_pipe,
    run_in_pty,
)

__all__ = [
    "API_KEY",
    "COLS",
    "FULL",
    "PROMPT",
    "QUICK",
    "ROOT",
    "ROWS",
    "THINKING_FORMS",
    "Bench",
    "BenchError",
    "BenchServer",
    "ProcessRun",
    "Sizes",
    "Step",
    "environment",
    "require_success",
    "run_in_pipe",
    "run_in_pty",
    "serve",
    "spec_question",
    "thinking_question",
    "worker_command",
]
