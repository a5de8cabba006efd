"""The measured cases, in the order they run and print.

Each case takes the run's ``Bench``, prints a titled table and records its figures and
target verdicts in ``bench.report``.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.cases.conversation import case_conversation, memory_worker, trim_worker
from bench.cases.knowledge import case_knowledge
from bench.cases.local import case_local, local_worker
from bench.cases.render import case_paced, case_render, final_render_bytes
from bench.cases.startup import case_oneshot, case_startup
from bench.cases.thinking import case_thinking
from bench.cases.web import case_web
from bench.harness import Bench

__all__ = [
    "CASES",
    "case_conversation",
    "case_knowledge",
    "case_local",
    "case_oneshot",
    "case_paced",
    "case_render",
    "case_startup",
    "case_thinking",
    "case_web",
    "final_render_bytes",
    "local_worker",
    "memory_worker",
    "trim_worker",
]

CASES: tuple[Callable[[Bench], None], ...] = (
    case_startup,
    case_oneshot,
    case_render,
    case_paced,
    case_conversation,
    case_thinking,
    case_local,
    case_web,
    case_knowledge,
)
