"""What a run found: targets with PASS or MISS, the printed tables and ratios, the JSON.

The cases print as they go (a slow full run shows its progress), so the formatting
helpers print directly; ``Report`` collects the verdicts and figures for the summary at
the end and for ``--json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Check",
    "Report",
    "format_bytes",
    "format_ratio",
    "format_seconds",
    "print_table",
    "print_title",
]


@dataclass(frozen=True, kw_only=True)
class Check:
    """One target: what was measured against what was wanted."""

    case: str
    target: str
    measured: str
    passed: bool


@dataclass(kw_only=True)
class Report:
    """Everything one run found, printed as it goes and optionally saved as JSON."""

    mode: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def check(self, case: str, *, target: str, measured: str, passed: bool) -> None:
        """Record one target's verdict and print its line under the case's table."""
        self.checks.append(Check(case=case, target=target, measured=measured, passed=passed))
        print(f"  target: {target:<52} {measured:<34} {'PASS' if passed else 'MISS'}")

    def print_summary(self) -> None:
        """How many targets were met, then each one missed."""
        passed = sum(c.passed for c in self.checks)
        print(f"\n{passed} of {len(self.checks)} targets met")
        for check in self.checks:
            if not check.passed:
                print(f"  MISS {check.case}: {check.target} (measured {check.measured})")

    def write_json(self, path: Path) -> None:
        """Save every verdict and figure, with the load average at the end of the run."""
        payload = {
            "mode": self.mode,
            "load_average": os.getloadavg(),
            "checks": [asdict(c) for c in self.checks],
            "figures": self.figures,
        }
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        return "  " + "  ".join(
            [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
        )

    print(line(headers))
    for row in rows:
        print(line(row))


def print_title(text: str) -> None:
    """A case's heading, after a blank line (the smoke test splits the output on these)."""
    print(f"\n{text}")


def format_seconds(seconds: float) -> str:
    """``1.234 s``, or ``118.7 s`` from ten seconds up."""
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def format_ratio(ratio: float) -> str:
    """``1.25x``, or ``79x`` from ten up."""
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.0f}x"


def format_bytes(count: float) -> str:
    """``50.0 KB``, or ``17.0 MB`` from ten megabytes up."""
    return f"{count / 1024:,.1f} KB" if count < 10 * 1024 * 1024 else f"{count / 2**20:,.1f} MB"
