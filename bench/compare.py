"""``python -m bench.compare OTHER``: this checkout against another, side by side in one run.

A refactor must not make the product slower, and two full benchmark runs taken one
after the other on a shared machine differ by their load more than by their code. So
this runs the figures a refactor can move (start-up to a typed key echoed, one-shot
``chatbot "hi"`` down a pipe, fitting a long history per turn) for both checkouts in
turn, round after round, against one bench server, and prints each pair's medians and
their ratio. ``OTHER`` is another checkout of this repository (its source tree is enough).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    COLS,
    PROMPT,
    ROWS,
    BenchServer,
    Step,
    environment,
    require_success,
    run_in_pipe,
    run_in_pty,
)
from bench.report import format_ratio, print_table, print_title

__all__ = ["Checkout", "main"]

_ROOT = Path(__file__).resolve().parent.parent
#: Ready: the prompt is drawn, and a key typed at it is echoed (as case 1 measures it).
_READY = (Step(expect=PROMPT, send=b"@"), Step(expect=b"@", send=b"\x7f\x04"))


@dataclass(frozen=True, kw_only=True, slots=True)
class Checkout:
    """A source tree, run by this benchmark's own Python.

    One interpreter and one set of installed packages for both trees (``PYTHONPATH``
    puts a tree's ``chatbot`` first), so the figures differ by the code alone, not by
    what else happens to be installed in each tree's virtualenv.
    """

    name: str
    root: Path

    @property
    def chatbot(self) -> list[str]:
        return [sys.executable, "-m", "chatbot"]

    def env(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, "PYTHONPATH": str(self.root)}


def _trim_ms(
    checkout: Checkout, *, env: dict[str, str], cwd: Path, sizes: Sequence[int]
) -> dict[str, float]:
    """Case 5's per-turn fit, in a worker of ``checkout``'s own code."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--worker", "trim", *map(str, sizes)],
        env=checkout.env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout.name}: the trim worker failed: {done.stderr[-800:]}")
    result = json.loads(done.stdout)
    return {size: float(figures["per_turn_ms"]) for size, figures in result.items()}


def _paired(
    rounds: int, checkouts: Sequence[Checkout], measure: Callable[[Checkout], float]
) -> dict[str, float]:
    """Median of ``measure`` per checkout, alternating who goes first each round."""
    seen: dict[str, list[float]] = {c.name: [] for c in checkouts}
    for number in range(rounds + 1):
        order = checkouts if number % 2 == 0 else list(reversed(checkouts))
        for checkout in order:
            value = measure(checkout)
            if number > 0:  # the first round warms the page cache for both
                seen[checkout.name].append(value)
    return {name: statistics.median(values) for name, values in seen.items()}


def compare(before: Checkout, after: Checkout, *, rounds: int) -> list[list[str]]:
    """The table rows: figure, before, after, after/before."""
    rows: list[list[str]] = []
    pair = (before, after)
    with tempfile.TemporaryDirectory(prefix="chatbot-compare-") as tmp:
        home = Path(tmp)
        env = environment(home)
        server = BenchServer(env=env, cwd=home)
        env["OPENAI_BASE_URL"] = server.base_url
        try:

            def echoed(checkout: Checkout) -> float:
                run = run_in_pty(
                    checkout.chatbot, env=checkout.env(env), cwd=home, steps=_READY, timeout=60
                )
                return require_success(run, what="chatbot").mark(1) * 1000

            def one_shot(checkout: Checkout) -> float:
                run = run_in_pipe([*checkout.chatbot, "hi"], env=checkout.env(env), cwd=home)
                return require_success(run, what="chatbot hi").wall * 1000

            for label, measure in (
                (f"start-up: typed key echoed, {ROWS}x{COLS} pty (ms)", echoed),
                ('one-shot "hi" down a pipe, wall (ms)', one_shot),
            ):
                medians = _paired(rounds, pair, measure)
                rows.append(_row(label, medians[before.name], medians[after.name]))
            sizes = (1000, 10000)
            trims: dict[str, list[dict[str, float]]] = {before.name: [], after.name: []}
            for number in range(max(3, rounds // 3)):
                for checkout in pair if number % 2 == 0 else reversed(pair):
                    trims[checkout.name].append(_trim_ms(checkout, env=env, cwd=home, sizes=sizes))
            for size in map(str, sizes):
                old = statistics.median(t[size] for t in trims[before.name])
                new = statistics.median(t[size] for t in trims[after.name])
                rows.append(_row(f"fit {int(size):,} messages per turn (ms)", old, new))
        finally:
            server.close()
    return rows


def _row(label: str, before: float, after: float) -> list[str]:
    return [label, _figure(before), _figure(after), format_ratio(after / before)]


def _figure(value: float) -> str:
    """Three significant digits, with no exponent: ``1,070``, ``1.3``, ``0.475``."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description="This checkout against another, the same figures side by side in one run.",
    )
    parser.add_argument("other", type=Path, help="the checkout to compare against")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per figure (default 15)")
    args = parser.parse_args(argv)
    before = Checkout(name="before", root=args.other.resolve())
    after = Checkout(name="after", root=_ROOT)
    if not (before.root / "chatbot" / "__main__.py").is_file():
        parser.error(f"{before.root} is not a chatbot checkout")
    print_title(
        f"before {before.root} vs after {after.root}: {args.rounds} rounds, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print_table(
        ["figure", "before", "after", "after/before"], compare(before, after, rounds=args.rounds)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
