"""Case 7: the local model. First token with nothing configured; our tokens/s against the ceiling.

* First token: ``chatbot "question"`` with no key, no base URL and no local server
  running, so it looks around (the ~150 ms probe), starts the embedded llama.cpp
  server and streams the answer; measured from launch to the first byte of the reply.
* Tokens/s: the same model, prompt, sampling and threads, generated through our
  path (the child server, SSE, ``ChatClient``) and in-process through
  ``llama_cpp.Llama`` (the ceiling: no HTTP, no JSON, no second process). Rounds
  alternate so background load falls on both alike. Decode rate counts streamed
  pieces (one per token on both paths) after the first.
* Memory: the child server's resident set (VmRSS) once ready, and its peak (VmHWM).

The measuring runs in ``python -m bench --worker local`` so neither the model nor
llama_cpp is loaded into the benchmark's own process.
"""

from __future__ import annotations

import os
import select
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.harness import PROMPT, Bench, BenchError, Step, require_success, run_in_pty
from bench.report import format_bytes, format_ratio, format_seconds, print_table, print_title

__all__ = ["case_local", "local_worker"]

#: The target: our path at least this fraction of the in-process rate.
TARGET_RATIO = 0.85
QUESTION = "What is the capital of France?"
STORY = "Write a long story about a dragon who learns to read."


def _first_byte_seconds(bench: Bench, env: dict[str, str]) -> tuple[float, float]:
    """Launch ``chatbot QUESTION`` with nothing configured; (first reply byte, exit) seconds."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [*bench.chatbot, "--max-tokens", "16", QUESTION],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=bench.cwd,
    )
    assert proc.stdout is not None
    first: float | None = None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], bench.sizes.timeout)
        if ready and os.read(proc.stdout.fileno(), 1):
            first = time.monotonic() - started
        proc.stdout.read()
        status = proc.wait(timeout=bench.sizes.timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    if first is None or status != 0:
        raise BenchError(f"the local one-shot printed nothing (status {proc.returncode})")
    return first, time.monotonic() - started


def case_local(bench: Bench) -> None:
    """7. The local model: first token, tokens/s against in-process llama_cpp, memory."""
    from chatbot.local.install import local_extra_installed

    rounds = 1 if bench.sizes.warm_up_rounds == 0 else 3
    tokens = 32 if bench.sizes.warm_up_rounds == 0 else 200
    print_title(f"7. Local model (SmolLM2-135M, {tokens} tokens, {rounds} rounds)")
    if not local_extra_installed():
        bench.report.figures["local"] = {"skipped": True}
        bench.report.check(
            "local",
            target=f"tokens/s through our client >= {TARGET_RATIO:.2f}x in-process",
            measured="not run: the 'local' extra is not installed",
            passed=False,
        )
        return
    # Nothing configured, as a new user starts: no key, default probe ports.
    env = {k: v for k, v in bench.env.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    env.pop("CHATBOT_LOCAL", None)
    firsts, totals = zip(*(_first_byte_seconds(bench, env) for _ in range(rounds)), strict=True)
    # The prompt must not wait for the look-around or the model: the server boots behind it.
    steps = (Step(expect=PROMPT, send=b"@"), Step(expect=b"@", send=b"\x7f\x04"))
    ready = statistics.median(
        require_success(
            run_in_pty(bench.chatbot, env=env, cwd=bench.cwd, steps=steps, timeout=60),
            what="chatbot (nothing configured)",
        ).mark(1)
        for _ in range(rounds)
    )
    result = bench.worker("local", str(tokens), str(rounds))
    ours, ceiling = result["ours_tps"], result["ceiling_tps"]
    ratio = ours / ceiling
    first = statistics.median(firsts)
    print_table(
        ["measure", "median"],
        [
            ["prompt ready (key echoed), nothing configured", format_seconds(ready)],
            ["first token, nothing configured", format_seconds(first)],
            ["whole one-shot, nothing configured", format_seconds(statistics.median(totals))],
            ["tokens/s, ours (child server, SSE, ChatClient)", f"{ours:.1f}"],
            ["tokens/s, in-process llama_cpp.Llama", f"{ceiling:.1f}"],
            ["ours / in-process", format_ratio(ratio)],
            ["child server memory, ready (VmRSS)", format_bytes(result["rss_ready"])],
            ["child server memory, peak (VmHWM)", format_bytes(result["rss_peak"])],
        ],
    )
    bench.report.figures["local"] = {
        "prompt_ready_s": ready,
        "first_token_s": first,
        "oneshot_s": statistics.median(totals),
        "tokens": tokens,
        "rounds": rounds,
        **result,
    }
    bench.report.check(
        "local",
        target=f"tokens/s through our client >= {TARGET_RATIO:.2f}x in-process",
        measured=f"{ours:.1f} vs {ceiling:.1f} ({format_ratio(ratio)})",
        passed=ratio >= TARGET_RATIO,
    )
    bench.report.check(
        "local",
        target="prompt ready < 0.3 s with nothing configured",
        measured=format_seconds(ready),
        passed=ready < 0.3,
    )


def _memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in bytes."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            fields[name] = int(value.split()[0]) * 1024
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)


def _decode_rate(stamps: list[float]) -> float:
    """Pieces per second after the first (the first waits for the prompt to be read)."""
    if len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return 0.0
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def local_worker(tokens: int, rounds: int) -> dict[str, Any]:
    """Generate ``tokens`` through our path and in-process, ``rounds`` times each, alternating."""
    import multiprocessing

    from llama_cpp import Llama

    from chatbot.api.client import ChatClient
    from chatbot.api.events import ChatRequest, TextDelta
    from chatbot.local.install import DEFAULT_ALIAS, find_bundled_model
    from chatbot.local.runtime import BUNDLED_CONTEXT
    from chatbot.local.server_process import LocalServer, batch_threads

    model = find_bundled_model()
    assert model is not None
    messages = [{"role": "user", "content": STORY}]
    server = LocalServer(model_path=model, n_ctx=BUNDLED_CONTEXT)
    server.start()
    try:
        server.wait_ready(timeout=120)
        assert server.pid is not None
        rss_ready, _ = _memory(server.pid)
        client = ChatClient(api_key="not-needed", base_url=server.base_url, timeout=120)
        cpus = multiprocessing.cpu_count()
        # The server's own defaults, spelled out: the same work on both paths.
        llama = Llama(
            model_path=str(model),
            n_ctx=BUNDLED_CONTEXT,
            n_batch=512,
            n_threads=max(cpus // 2, 1),
            n_threads_batch=batch_threads(),
            verbose=False,
        )
        ours: list[float] = []
        ceiling: list[float] = []
        counts: list[tuple[int, int]] = []
        for _ in range(rounds):
            stamps: list[float] = []
            request = ChatRequest(
                model=DEFAULT_ALIAS, messages=messages, temperature=0.0, max_tokens=tokens
            )
            for event in client.stream(request):
                if isinstance(event, TextDelta) and event.text:
                    stamps.append(time.perf_counter())
            ours.append(_decode_rate(stamps))
            inside: list[float] = []
            for chunk in llama.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                temperature=0.0,
                max_tokens=tokens,
                stream=True,
            ):
                delta: Any = chunk["choices"][0]["delta"]  # type: ignore[index]
                if delta.get("content"):
                    inside.append(time.perf_counter())
            ceiling.append(_decode_rate(inside))
            counts.append((len(stamps), len(inside)))
        _, rss_peak = _memory(server.pid)
        client.close()
    finally:
        server.stop()
    return {
        "ours_tps": statistics.median(ours),
        "ceiling_tps": statistics.median(ceiling),
        "ours_runs": ours,
        "ceiling_runs": ceiling,
        "pieces": counts,
        "rss_ready": rss_ready,
        "rss_peak": rss_peak,
    }
