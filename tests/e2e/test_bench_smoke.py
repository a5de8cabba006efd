"""The benchmark still runs end to end: every case reports, at tiny sizes, within a minute.

It is run as ``python -m bench --quick`` from the repository root, as BENCHMARKS.md says.

Timings are not asserted: they depend on the machine. Only that each case ran, printed
its targets with a verdict, and saved its figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = {
    "startup": "1. Start-up",
    "oneshot": "2. One-shot",
    "render": "3. Render throughput",
    "paced": "4. Paced stream",
    "conversation": "5. Long conversation",
    "thinking": "6. Reasoning model, paced",
    "local": "7. Local model",
    "web": "8. Web chat",
    "knowledge": "9. Knowledge retrieval",
}


def test_quick_benchmark_reports_every_case(tmp_path: Path) -> None:
    results = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(results)],
        cwd=ROOT,  # ``-m bench`` finds the package (and ``tests``) from the repository root
        capture_output=True,
        text=True,
        timeout=180,  # case 6 loads the local model: tens of seconds on a busy machine
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout

    for title in CASES.values():
        assert title in out, f"{title!r} missing from:\n{out}"
    # Every case ends with at least one target line carrying a verdict.
    sections = out.split("\n\n")
    for title in CASES.values():
        section = next(s for s in sections if title in s)
        verdicts = [line for line in section.splitlines() if line.strip().startswith("target:")]
        assert verdicts, f"no targets printed for {title}"
        assert all(line.rstrip().endswith(("PASS", "MISS")) for line in verdicts)

    saved = json.loads(results.read_text(encoding="utf-8"))
    assert {check["case"] for check in saved["checks"]} == set(CASES)
    assert set(saved["figures"]) == set(CASES)
    assert "targets met" in out


def test_compare_runs_two_trees_side_by_side() -> None:
    # The same tree on both sides: every figure is printed with its ratio.
    done = subprocess.run(
        [sys.executable, "-m", "bench.compare", str(ROOT), "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.rstrip().endswith("x")]
    assert len(rows) == 4, done.stdout
    names = [row.strip() for row in rows]
    assert names[0].startswith("start-up") and names[1].startswith("one-shot"), done.stdout
