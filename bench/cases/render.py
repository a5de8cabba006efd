"""Cases 3 and 4: streaming Markdown into a pty, flat out and paced like a fast server.

Against the raw SDK loop, ``chatbot --raw`` (the renderer's share) and, at the smaller
size, the naive rich ``Live`` renderer.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.harness import COLS, ROWS, Bench, ProcessRun, spec_question
from bench.report import format_bytes, format_ratio, format_seconds, print_table, print_title

__all__ = ["calibrated_delay", "case_paced", "case_render", "final_render_bytes"]


def final_render_bytes(text: str) -> int:
    """Bytes of one rich render of the whole reply on a 40x120 256-colour terminal.

    Each newline counts as two bytes, as the terminal's line discipline turns it into
    CR LF for everything the children write too.
    """
    import io

    from rich.console import Console
    from rich.markdown import Markdown

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=COLS,
        height=ROWS,
        force_terminal=True,
        color_system="256",
        highlight=False,
        soft_wrap=False,
    )
    # As chatbot renders replies: links show their URL (no OSC 8 hyperlinks).
    console.print(Markdown(text, code_theme="monokai", hyperlinks=False))
    rendered = buffer.getvalue()
    return len(rendered.encode()) + rendered.count("\n")


def case_render(bench: Bench) -> None:
    """3. Markdown streamed as fast as the server can, rendered in a pty."""
    from tests.support import fakeserver

    runs = bench.sizes.render_runs
    small, large = bench.sizes.render_tokens
    print_title(
        f"3. Render throughput: Markdown at ~1 token a chunk, as fast as the server can, "
        f"{ROWS}x{COLS} pty (median of {runs}; naive once)"
    )
    rows: list[list[str]] = []
    figures: dict[str, Any] = {}
    for tokens in (small, large):
        question = spec_question(tokens)
        final = final_render_bytes(fakeserver.markdown_sample(tokens))
        sdk_runs: list[ProcessRun] = []
        our_runs: list[ProcessRun] = []
        raw_runs: list[ProcessRun] = []
        for _ in range(runs):
            sdk_runs.append(bench.pty(bench.naive("sdk", question)))
            our_runs.append(bench.pty([*bench.chatbot, "--markdown", question]))
            raw_runs.append(bench.pty([*bench.chatbot, "--raw", question]))
        raw = statistics.median([r.wall for r in raw_runs])
        sdk = statistics.median([r.wall for r in sdk_runs])
        ours = statistics.median([r.wall for r in our_runs])
        ours_bytes = statistics.median([r.out_bytes for r in our_runs])
        entry: dict[str, Any] = {
            "final_render_bytes": final,
            "sdk_s": sdk,
            "sdk_cpu_s": statistics.median([r.cpu for r in sdk_runs]),
            "chatbot_s": ours,
            "chatbot_cpu_s": statistics.median([r.cpu for r in our_runs]),
            "chatbot_terminal_bytes": ours_bytes,
            "chatbot_raw_s": raw,
            "chatbot_raw_cpu_s": statistics.median([r.cpu for r in raw_runs]),
        }
        rows.append(
            [
                "raw SDK loop",
                str(tokens),
                format_seconds(sdk),
                format_seconds(entry["sdk_cpu_s"]),
                "-",
                "1.00x",
                "-",
            ]
        )
        rows.append(
            [
                "chatbot --raw (no Markdown)",
                str(tokens),
                format_seconds(raw),
                format_seconds(entry["chatbot_raw_cpu_s"]),
                format_bytes(statistics.median([r.out_bytes for r in raw_runs])),
                format_ratio(raw / sdk),
                "-",
            ]
        )
        rows.append(
            [
                "chatbot --markdown",
                str(tokens),
                format_seconds(ours),
                format_seconds(entry["chatbot_cpu_s"]),
                format_bytes(ours_bytes),
                format_ratio(ours / sdk),
                format_ratio(ours_bytes / final),
            ]
        )
        if tokens == small:
            naive = bench.pty(bench.naive("live", question))
            entry.update(
                naive_s=naive.wall, naive_cpu_s=naive.cpu, naive_terminal_bytes=naive.out_bytes
            )
            rows.append(
                [
                    "naive rich Live",
                    str(tokens),
                    format_seconds(naive.wall),
                    format_seconds(naive.cpu),
                    format_bytes(naive.out_bytes),
                    format_ratio(naive.wall / sdk),
                    format_ratio(naive.out_bytes / final),
                ]
            )
        rows.append(["final render, once", str(tokens), "", "", format_bytes(final), "", "1.00x"])
        figures[str(tokens)] = entry
    print_table(
        ["client", "tokens", "wall", "cpu", "terminal", "wall vs SDK", "bytes vs final"], rows
    )
    bench.report.figures["render"] = figures
    big = figures[str(large)]
    ratio = big["chatbot_s"] / big["sdk_s"]
    bench.report.check(
        "render",
        target=f"wall <= 1.5x raw SDK at {large} tokens",
        measured=format_ratio(ratio),
        passed=ratio <= 1.5,
    )
    for tokens in (small, large):
        entry = figures[str(tokens)]
        amplification = entry["chatbot_terminal_bytes"] / entry["final_render_bytes"]
        bench.report.check(
            "render",
            target=f"terminal bytes <= 3x final render at {tokens}",
            measured=format_ratio(amplification),
            passed=amplification <= 3,
        )
    speedup = figures[str(small)]["naive_s"] / figures[str(small)]["chatbot_s"]
    bench.report.check(
        "render",
        target=f">= 50x faster than naive at {small}",
        measured=f"{format_ratio(speedup)} faster",
        passed=speedup >= 50,
    )


def calibrated_delay(bench: Bench, *, rate: float) -> float:
    """The server's pause between one-token chunks that makes it stream at ``rate``.

    Its sleeps overshoot by a fairly steady amount a chunk (timer slack, writing the
    event), so measure that with short streams and take it off.
    """
    tokens = min(bench.sizes.paced_tokens, 2000)
    delay = 1 / rate
    for _ in range(bench.sizes.calibration_rounds):
        bench.server.forget_streams()
        bench.pty(bench.naive("sdk", spec_question(tokens, delay=delay)))
        first, last = bench.server.next_stream()
        overshoot = (last - first) / tokens - delay
        delay = max(0.0, 1 / rate - overshoot)
    return delay


def case_paced(bench: Bench) -> None:
    """4. A stream paced like a fast server: how soon after its end the screen is done."""
    sizes = bench.sizes
    print_title(
        f"4. Paced stream: {sizes.paced_tokens} tokens at {sizes.paced_rate:g} tokens/s, "
        f"{ROWS}x{COLS} pty (median of {sizes.paced_runs})"
    )
    delay = calibrated_delay(bench, rate=sizes.paced_rate)
    question = spec_question(sizes.paced_tokens, delay=delay)
    results: dict[str, dict[str, list[float]]] = {}
    for _ in range(sizes.paced_runs):
        for name, argv in (
            ("raw SDK loop", bench.naive("sdk", question)),
            ("chatbot --markdown", [*bench.chatbot, "--markdown", question]),
        ):
            bench.server.forget_streams()
            run = bench.pty(argv)
            first, last = bench.server.next_stream()
            into = results.setdefault(name, {"screen": [], "exit": [], "rate": [], "cpu": []})
            if run.out_bytes:  # the SDK loop writes nothing: it has no screen to finish
                into["screen"].append(run.last_byte - last)
            into["exit"].append(run.exited - last)
            into["rate"].append(sizes.paced_tokens / (last - first))
            into["cpu"].append(run.cpu)
    rows = []
    figures: dict[str, Any] = {}
    for name, values in results.items():
        medians = {key: statistics.median(v) for key, v in values.items() if v}
        figures[name] = medians
        screen = f"{medians['screen'] * 1000:.0f} ms" if "screen" in medians else "-"
        rows.append(
            [
                name,
                f"{medians['rate']:,.0f}/s",
                format_seconds(medians["cpu"]),
                screen,
                f"{medians['exit'] * 1000:.0f} ms",
            ]
        )
    print_table(["client", "server rate", "cpu", "last byte on screen", "process exit"], rows)
    print("  (both after the server's last byte; the SDK loop writes nothing to the screen)")
    bench.report.figures["paced"] = figures
    lag = figures["chatbot --markdown"]["screen"]
    bench.report.check(
        "paced",
        target="screen complete < 0.2 s after the last byte",
        measured=f"{lag * 1000:.0f} ms",
        passed=lag < 0.2,
    )
