"""Cases 1 and 2: how soon chatbot is ready, interactive and one-shot, against the SDK.

Each round runs every command once, in turn, so background load falls on all alike.
Start-up is measured in English and in Japanese (``LANG=ja_JP.UTF-8``): speaking
Japanese loads a message catalogue, which must not make the prompt come later.
"""

from __future__ import annotations

import statistics
import sys

from bench.harness import COLS, PROMPT, ROWS, Bench, BenchError, Step
from bench.report import format_ratio, format_seconds, print_table, print_title

__all__ = ["case_oneshot", "case_startup"]


def case_startup(bench: Bench) -> None:
    """1. Launch to prompt ready, against bare Python and against importing the SDK."""
    runs = bench.sizes.startup_runs
    print_title(f"1. Start-up: launch in a {ROWS}x{COLS} pty until ready (median of {runs})")
    python = sys.executable
    # Ready: the prompt is drawn, and a key typed at it is echoed by prompt_toolkit.
    steps = (Step(expect=PROMPT, send=b"@"), Step(expect=b"@", send=b"\x7f\x04"))
    pass_times: list[float] = []
    openai_times: list[float] = []
    drawn: list[float] = []
    echoed: list[float] = []
    echoed_ja: list[float] = []
    drawn_ja: list[float] = []
    japanese = {"LANG": "ja_JP.UTF-8"}
    for run in range(bench.sizes.warm_up_rounds + runs):
        a = bench.pty([python, "-c", "pass"])
        b = bench.pty([python, "-c", "import openai"])
        c = bench.pty(bench.chatbot, steps=steps)
        d = bench.pty(bench.chatbot, steps=steps, env=japanese)
        if run >= bench.sizes.warm_up_rounds:
            pass_times.append(a.wall)
            openai_times.append(b.wall)
            drawn.append(c.mark(0))
            echoed.append(c.mark(1))
            drawn_ja.append(d.mark(0))
            echoed_ja.append(d.mark(1))
    bare, sdk = statistics.median(pass_times), statistics.median(openai_times)
    prompt, echo = statistics.median(drawn), statistics.median(echoed)
    prompt_ja, echo_ja = statistics.median(drawn_ja), statistics.median(echoed_ja)
    rows = [
        ("python -c pass", bare),
        ('python -c "import openai"', sdk),
        ("chatbot: prompt drawn", prompt),
        ("chatbot: typed key echoed", echo),
        ("chatbot, LANG=ja_JP.UTF-8: prompt drawn", prompt_ja),
        ("chatbot, LANG=ja_JP.UTF-8: typed key echoed", echo_ja),
    ]
    print_table(
        ["command", "median", "vs python -c pass", "vs import openai"],
        [
            [name, format_seconds(t), format_ratio(t / bare), format_ratio(t / sdk)]
            for name, t in rows
        ],
    )
    bench.report.figures["startup"] = {
        "python_pass_s": bare,
        "import_openai_s": sdk,
        "prompt_drawn_s": prompt,
        "key_echoed_s": echo,
        "prompt_drawn_ja_s": prompt_ja,
        "key_echoed_ja_s": echo_ja,
        "runs": runs,
    }
    bench.report.check(
        "startup",
        target="prompt ready (key echoed) < 0.3 s",
        measured=format_seconds(echo),
        passed=echo < 0.3,
    )
    bench.report.check(
        "startup",
        target="well under import openai (<= 0.5x)",
        measured=format_ratio(echo / sdk),
        passed=echo <= 0.5 * sdk,
    )
    bench.report.check(
        "startup",
        target="Japanese no slower than English (key echoed, <= 1.05x)",
        measured=format_ratio(echo_ja / echo),
        passed=echo_ja <= 1.05 * echo,
    )


def case_oneshot(bench: Bench) -> None:
    """2. ``chatbot "hi"`` down a pipe, against the SDK floor making the same request."""
    runs = bench.sizes.oneshot_runs
    print_title(f'2. One-shot: chatbot "hi", stdout a pipe (median of {runs})')
    floor_argv = bench.naive("sdk", "hi", "--print")
    floor: list[float] = []
    ours: list[float] = []
    floor_cpu: list[float] = []
    ours_cpu: list[float] = []
    for run in range(bench.sizes.warm_up_rounds + runs):
        a = bench.pipe(floor_argv)
        b = bench.pipe([*bench.chatbot, "hi"])
        if b.output.strip() != a.output.strip():
            raise BenchError(f"chatbot printed {b.output!r}, the floor {a.output!r}")
        if run >= bench.sizes.warm_up_rounds:
            floor.append(a.wall)
            ours.append(b.wall)
            floor_cpu.append(a.cpu)
            ours_cpu.append(b.cpu)
    f, o = statistics.median(floor), statistics.median(ours)
    print_table(
        ["client", "wall", "cpu", "wall vs floor"],
        [
            [
                "SDK floor (import openai, stream, print)",
                format_seconds(f),
                format_seconds(statistics.median(floor_cpu)),
                "1.00x",
            ],
            [
                'chatbot "hi"',
                format_seconds(o),
                format_seconds(statistics.median(ours_cpu)),
                format_ratio(o / f),
            ],
        ],
    )
    bench.report.figures["oneshot"] = {
        "floor_s": f,
        "chatbot_s": o,
        "floor_cpu_s": statistics.median(floor_cpu),
        "chatbot_cpu_s": statistics.median(ours_cpu),
        "runs": runs,
    }
    bench.report.check(
        "oneshot",
        target="within 1.15x of the SDK floor",
        measured=format_ratio(o / f),
        passed=o <= 1.15 * f,
    )
