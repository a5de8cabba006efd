"""Case 6: a reasoning model, paced: thinking, then the answer, in a pty.

The server thinks ``thinking_tokens[0]`` tokens, then answers with the Markdown sample
of ``thinking_tokens[1]`` tokens, one token a chunk at ``paced_rate`` tokens a second,
in both forms a server may use: ``delta.reasoning_content`` and inline ``<think>``.
``chatbot --markdown`` shows the thinking live (on stderr, the same pty) and folds it
to one line when the answer starts. Against the raw SDK loop, which reads the same
stream and shows nothing.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.cases.render import calibrated_delay, final_render_bytes
from bench.harness import COLS, ROWS, THINKING_FORMS, Bench, Step, thinking_question
from bench.report import format_bytes, format_ratio, print_table, print_title

__all__ = ["case_thinking", "folded_line_bytes"]


def folded_line_bytes(seconds: float, tokens: int) -> int:
    """Bytes of the line the thinking folds to, dim, as chatbot writes it (CR LF counted)."""
    import io

    from rich.console import Console
    from rich.text import Text

    from chatbot.render.thinking_region import fold_line

    buffer = io.StringIO()
    console = Console(file=buffer, width=COLS, height=ROWS, force_terminal=True, color_system="256")
    console.print(Text(fold_line(seconds=seconds, tokens=tokens), style="dim"))
    rendered = buffer.getvalue()
    return len(rendered.encode()) + rendered.count("\n")


def case_thinking(bench: Bench) -> None:
    """6. A reasoning model's reply, paced: the thinking must not slow the answer."""
    from chatbot.tokens import estimate_tokens
    from tests.support import fakeserver

    sizes = bench.sizes
    thinking, answer = sizes.thinking_tokens
    print_title(
        f"6. Reasoning model, paced: {thinking} thinking tokens then {answer} answer tokens "
        f"at {sizes.paced_rate:g} tokens/s, {ROWS}x{COLS} pty (median of {sizes.thinking_runs})"
    )
    delay = calibrated_delay(bench, rate=sizes.paced_rate)
    seconds = thinking / sizes.paced_rate
    tokens = estimate_tokens(fakeserver.thinking_sample(thinking))
    budget = final_render_bytes(fakeserver.markdown_sample(answer)) + folded_line_bytes(
        seconds, tokens
    )
    results: dict[str, dict[str, list[float]]] = {}
    for _ in range(sizes.thinking_runs):
        for form in THINKING_FORMS:
            question = thinking_question(thinking, answer, form=form, delay=delay)
            for name, argv, steps in (
                (f"raw SDK loop, {form}", bench.naive("sdk", question), ()),
                (
                    f"chatbot, {form}",
                    [*bench.chatbot, "--markdown", question],
                    (Step(expect="Thinking…".encode()),),
                ),
            ):
                bench.server.forget_streams()
                run = bench.pty(argv, steps=steps)
                first, last = bench.server.next_stream()
                into = results.setdefault(name, {})
                into.setdefault("rate", []).append((thinking + answer) / (last - first))
                into.setdefault("cpu", []).append(run.cpu)
                into.setdefault("exit", []).append(run.exited - last)
                if steps:
                    into.setdefault("first_sign", []).append(run.marks[0] - first)
                    into.setdefault("screen", []).append(run.last_byte - last)
                    into.setdefault("bytes", []).append(run.out_bytes)
    figures: dict[str, Any] = {"budget_bytes": budget}
    rows = []
    for name, values in results.items():
        medians = {key: statistics.median(v) for key, v in values.items()}
        figures[name] = medians
        rows.append(
            [
                name,
                f"{medians['rate']:,.0f}/s",
                f"{medians['cpu']:.3f} s",
                f"{medians['first_sign'] * 1000:.0f} ms" if "first_sign" in medians else "-",
                f"{medians['screen'] * 1000:.0f} ms" if "screen" in medians else "-",
                f"{medians['exit'] * 1000:.0f} ms",
                format_bytes(medians["bytes"]) if "bytes" in medians else "-",
                format_ratio(medians["bytes"] / budget) if "bytes" in medians else "-",
            ]
        )
    rows.append(
        ["answer rendered once + folded line", "", "", "", "", "", format_bytes(budget), "1.00x"]
    )
    headers = ["client", "server rate", "cpu", "first sign", "screen done", "exit", "terminal"]
    print_table([*headers, "vs budget"], rows)
    print(
        "  (first sign: the first 'Thinking…' on screen after the stream began; screen done"
        " and exit: after the server's last byte; the SDK loop writes nothing to the screen)"
    )
    bench.report.figures["thinking"] = figures
    for form in THINKING_FORMS:
        ours, sdk = figures[f"chatbot, {form}"], figures[f"raw SDK loop, {form}"]
        bench.report.check(
            "thinking",
            target=f"{form}: screen complete < 0.2 s after the last byte",
            measured=f"{ours['screen'] * 1000:.0f} ms",
            passed=ours["screen"] < 0.2,
        )
        ratio = ours["bytes"] / budget
        bench.report.check(
            "thinking",
            target=f"{form}: bytes <= 1.5x answer render + folded line",
            measured=format_ratio(ratio),
            passed=ratio <= 1.5,
        )
        bench.report.check(
            "thinking",
            target=f"{form}: first sign of thinking < 0.5 s",
            measured=f"{ours['first_sign'] * 1000:.0f} ms",
            passed=ours["first_sign"] < 0.5,
        )
        pace = ours["rate"] / sdk["rate"]
        bench.report.check(
            "thinking",
            target=f"{form}: stream rate >= 95% of the SDK loop's",
            measured=f"{pace:.0%}",
            passed=pace >= 0.95,
        )
