"""``python -m bench``: run every case and print the ratios; ``--json PATH`` saves them.

One run starts the bench server (``tests.support.fakeserver``) in a subprocess, then
measures each case against its baselines in the same run and prints each target's PASS
or MISS. It exits 0 even when a target is missed: the benchmark is not a test. The
hidden ``--worker KIND`` runs one piece in a process of its own (see ``bench.harness``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.cases import CASES, local_worker, memory_worker, trim_worker
from bench.harness import FULL, QUICK, Bench, BenchError, BenchServer, Sizes, environment, serve
from bench.report import Report

__all__ = ["main", "run_benchmark"]


def run_benchmark(sizes: Sizes, *, mode: str, only: str | None = None) -> Report:
    """Every case in a clean temporary home against one bench server; the summary last."""
    report = Report(mode=mode)
    with tempfile.TemporaryDirectory(prefix="chatbot-bench-") as tmp:
        home = Path(tmp)
        env = environment(home)
        server = BenchServer(env=env, cwd=home)
        env["OPENAI_BASE_URL"] = server.base_url
        bench = Bench(sizes=sizes, server=server, env=env, cwd=home, report=report)
        print(
            f"chatbot benchmark ({mode}), {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f}, server {server.base_url}"
        )
        try:
            for case in CASES:
                if only is None or case.__name__ == f"case_{only}":
                    case(bench)
        finally:
            server.close()
    report.print_summary()
    return report


def _run_worker(args: Sequence[str]) -> int:
    """``--worker serve|trim|memory|local ARGS``: serve forever, or print one result as JSON."""
    kind, *rest = args
    if kind == "serve":
        return serve()
    if kind == "trim":
        result = trim_worker([int(n) for n in rest])
    elif kind == "local":
        tokens, rounds = rest
        result = local_worker(int(tokens), int(rounds))
    elif kind == "memory":
        base_url, turns, reply_tokens, db = rest
        result = memory_worker(
            base_url, turns=int(turns), reply_tokens=int(reply_tokens), db=Path(db)
        )
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the flags, run the benchmark (or a worker); 1 only if a child misbehaved."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmark chatbot (see BENCHMARKS.md)."
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write results here")
    parser.add_argument(
        "--only", metavar="CASE", help="run one case (startup, render, ..., knowledge)"
    )
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _run_worker(args.worker)
    mode = "quick" if args.quick else "full"
    try:
        report = run_benchmark(QUICK if args.quick else FULL, mode=mode, only=args.only)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    if args.json:
        report.write_json(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
