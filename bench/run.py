"""Benchmark chatbot against its floors and the naive way, every case side by side.

Run ``.venv/bin/python bench/run.py`` (``--quick`` for tiny sizes, ``--json PATH`` to
keep the figures). One run starts the local OpenAI-compatible server
(tests/fakeserver.py) in a subprocess, then measures each case against its baselines
in the same run, interleaving the commands so background load hits them alike, and
prints ratios with each target's PASS or MISS. See BENCHMARKS.md for what each case
measures and the latest results.

Children run in pseudo-terminals of 40x120 that answer cursor-position queries like a
terminal would; their CPU time comes from ``os.wait4``. The hidden ``--worker`` modes
are the pieces that must run in a process of their own: the server, and the in-process
ChatSession measurements (so their memory is the session's alone).
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import json
import os
import queue
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatbot.conversation.history import FittedRequest
    from chatbot.conversation.session import ChatSession

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
ROWS, COLS = 40, 120
# prompt_toolkit draws the prompt without its trailing space (it moves the cursor).
PROMPT = "›".encode()
API_KEY = "sk-bench-not-a-secret"
# A question of this shape makes the bench server stream a Markdown sample:
# "bench md TOKENS CHUNK_CHARS DELAY [anything]".
_SPEC = "bench md"
_CPR_REQUEST = b"\x1b[6n"
_KEPT_BYTES = 4096


# --- sizes and results --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Sizes:
    """How big and how often; ``--quick`` shrinks everything for the smoke test."""

    startup_runs: int
    oneshot_runs: int
    render_tokens: tuple[int, int]
    render_runs: int
    paced_tokens: int
    paced_rate: float
    paced_runs: int
    trim_sizes: tuple[int, int, int]
    memory_turns: int
    memory_reply_tokens: int
    #: Discarded first rounds (warm file caches), and runs to find the paced delay.
    warm_up_rounds: int
    calibration_rounds: int
    timeout: float


FULL = Sizes(
    startup_runs=7,
    oneshot_runs=7,
    render_tokens=(2000, 8000),
    render_runs=5,
    paced_tokens=8000,
    paced_rate=2000.0,
    paced_runs=3,
    trim_sizes=(1000, 5000, 10000),
    memory_turns=500,
    memory_reply_tokens=200,
    warm_up_rounds=1,
    calibration_rounds=3,
    timeout=900.0,
)
QUICK = Sizes(
    startup_runs=1,
    oneshot_runs=1,
    render_tokens=(40, 120),
    render_runs=1,
    paced_tokens=120,
    paced_rate=2000.0,
    paced_runs=1,
    trim_sizes=(100, 500, 1000),
    memory_turns=8,
    memory_reply_tokens=50,
    warm_up_rounds=0,
    calibration_rounds=1,
    timeout=30.0,
)


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
        self.checks.append(Check(case=case, target=target, measured=measured, passed=passed))
        print(f"  target: {target:<52} {measured:<34} {'PASS' if passed else 'MISS'}")


class BenchError(Exception):
    """A child misbehaved (timed out, failed, or never showed what was expected)."""


# --- running children -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Step:
    """Wait until ``expect`` appears on the terminal, then type ``send``."""

    expect: bytes
    send: bytes = b""


@dataclass(frozen=True, kw_only=True)
class ProcessRun:
    """One child from launch to exit. Times are ``time.monotonic()`` values."""

    started: float
    exited: float
    last_byte: float
    cpu: float
    out_bytes: int
    status: int
    marks: tuple[float, ...]
    output: bytes

    @property
    def wall(self) -> float:
        return self.exited - self.started

    def mark(self, index: int) -> float:
        """Seconds from launch until step ``index`` saw its text."""
        return self.marks[index] - self.started


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, float, float]:
    """Wait for ``proc``; return its exit code, CPU seconds and the time it was reaped."""
    _, status, usage = os.wait4(proc.pid, 0)
    exited = time.monotonic()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, exited


def run_in_pty(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    steps: Sequence[Step] = (),
    timeout: float,
) -> ProcessRun:
    """Run ``argv`` with a 40x120 pseudo-terminal as stdin, stdout and stderr.

    Every byte the child writes is read and counted as it arrives; cursor-position
    queries are answered, as prompt_toolkit waits a while for them otherwise. Only the
    last few KB of output are kept, for error messages.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        os.close(slave)
    pending = list(steps)
    marks: list[float] = []
    seen = bytearray()
    kept = b""
    total = 0
    last_byte = started
    tail = b""
    deadline = started + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(proc.pid, signal.SIGKILL)
                raise BenchError(f"{argv[-1]!r} took over {timeout:g}s (killed)")
            readable, _, _ = select.select([master], [], [], min(remaining, 1.0))
            if not readable:
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                break  # EIO: the child has exited and the terminal is drained
            if not data:
                break
            last_byte = time.monotonic()
            total += len(data)
            kept = (kept + data)[-_KEPT_BYTES:]
            if _CPR_REQUEST in tail + data:
                os.write(master, b"\x1b[%d;1R" % ROWS)
            tail = data[-3:]
            if pending:
                seen += data
                while pending and (found := seen.find(pending[0].expect)) >= 0:
                    marks.append(last_byte)
                    del seen[: found + len(pending[0].expect)]
                    if pending[0].send:
                        os.write(master, pending[0].send)
                    pending.pop(0)
    finally:
        os.close(master)
        status, cpu, exited = _reap(proc)
    if pending:
        raise BenchError(f"{argv[-1]!r} exited ({status}) without showing {pending[0].expect!r}")
    return ProcessRun(
        started=started,
        exited=exited,
        last_byte=last_byte,
        cpu=cpu,
        out_bytes=total,
        status=status,
        marks=tuple(marks),
        output=kept,
    )


def run_in_pipe(argv: Sequence[str], *, env: dict[str, str], cwd: Path) -> ProcessRun:
    """Run ``argv`` with stdout and stderr a pipe and stdin empty, as in a script."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    last_byte = time.monotonic()
    proc.stdout.close()
    status, cpu, exited = _reap(proc)
    return ProcessRun(
        started=started,
        exited=exited,
        last_byte=last_byte,
        cpu=cpu,
        out_bytes=len(output),
        status=status,
        marks=(),
        output=output,
    )


def _ok(run: ProcessRun, *, what: str) -> ProcessRun:
    if run.status != 0:
        text = run.output.decode(errors="replace")[-800:]
        raise BenchError(f"{what} exited with status {run.status}: {text}")
    return run


# --- the bench server ---------------------------------------------------------------


def _fakeserver() -> ModuleType:
    """tests/support/fakeserver.py: stdlib only, so the bench can load it without pytest."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("tests.support.fakeserver")


def spec_question(tokens: int, *, chunk_chars: int = 4, delay: float = 0.0) -> str:
    """The question that makes the bench server stream ``tokens`` tokens of Markdown."""
    return f"{_SPEC} {tokens} {chunk_chars} {delay:g}"


class BenchServer:
    """The fake server in a subprocess, and the times it finished each stream."""

    def __init__(self, *, env: dict[str, str], cwd: Path) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", "serve"],
            stdout=subprocess.PIPE,
            env=env,
            cwd=cwd,
            text=True,
        )
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.close()
            raise BenchError(f"the bench server did not start: {self.base_url!r}")
        self._streams: queue.Queue[tuple[float, float]] = queue.Queue()
        threading.Thread(target=self._follow, name="bench-server", daemon=True).start()

    def _follow(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            words = line.split()
            if len(words) == 3 and words[0] == "stream":
                self._streams.put((float(words[1]), float(words[2])))

    def forget_streams(self) -> None:
        while not self._streams.empty():
            self._streams.get_nowait()

    def next_stream(self, *, timeout: float = 10.0) -> tuple[float, float]:
        """(first byte, last byte) of the next finished stream, as ``time.monotonic()``."""
        try:
            return self._streams.get(timeout=timeout)
        except queue.Empty:
            raise BenchError("the bench server never finished a stream") from None

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)


def _serve() -> int:
    """Worker: serve Markdown samples named by the question; report each stream's end."""
    fakeserver = _fakeserver()
    samples: dict[int, str] = {}

    def respond(body: dict[str, Any]) -> Any:
        messages = body.get("messages") or [{}]
        words = str(messages[-1].get("content", "")).split()
        if len(words) < 5 or " ".join(words[:2]) != _SPEC:
            return None  # the default: echo the question
        tokens, chunk_chars, delay = int(words[2]), int(words[3]), float(words[4])
        if tokens not in samples:
            samples[tokens] = fakeserver.markdown_sample(tokens)
        return fakeserver.Reply(text=samples[tokens], chunk_chars=chunk_chars, delay=delay)

    class TimedHandler(fakeserver._Handler):  # type: ignore[name-defined,misc]
        """Records when the last byte of each stream left (the fake has no hook)."""

        def _stream(self, *args: Any) -> None:
            # time.monotonic() is CLOCK_MONOTONIC: comparable across processes.
            first = time.monotonic()
            super()._stream(*args)
            print(f"stream {first:.6f} {time.monotonic():.6f}", flush=True)

    server = fakeserver.FakeOpenAIServer(responder=respond).start()
    # socketserver builds a handler per request from this attribute, so swapping it
    # after start() times every later stream without changing the fake itself.
    server._httpd.RequestHandlerClass = TimedHandler
    print(server.base_url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        threading.Event().wait()
    finally:
        server.close()
    return 0


# --- in-process ChatSession workers -------------------------------------------------


def _session(base_url: str, **kwargs: Any) -> ChatSession:
    from chatbot.api.client import ChatClient
    from chatbot.conversation.session import ChatSession
    from chatbot.settings.config import resolve_config
    from chatbot.settings.personas import load_personas

    config = resolve_config(flags={"base_url": base_url}, env={"OPENAI_API_KEY": API_KEY})
    client = ChatClient(api_key=API_KEY, base_url=base_url, timeout=60, max_retries=0)
    persona = load_personas().get("default")
    return ChatSession(config=config, persona=persona, backend=client, **kwargs)


def _trim_worker(sizes: Sequence[int]) -> dict[str, Any]:
    """Time what each turn does before sending: fit the history plus the new question."""
    from chatbot.conversation.messages import Message, Role

    fakeserver = _fakeserver()
    replies = [fakeserver.markdown_sample(150, seed=seed) for seed in range(64)]
    out: dict[str, Any] = {}
    for size in sizes:
        session = _session("http://127.0.0.1:9/v1")
        for i in range(size // 2):
            question = f"Question {i}: how does the cache behave when the budget is full?"
            session.conversation.append(Message(role=Role.USER, content=question))
            session.conversation.append(Message(role=Role.ASSISTANT, content=replies[i % 64]))

        def turn(session: ChatSession = session) -> FittedRequest:
            question = Message(role=Role.USER, content="And what about the retry timeout?")
            return session.fit([*session.conversation.live_history, question])

        started = time.perf_counter()
        fitted = turn()
        cold = time.perf_counter() - started
        times = []
        for _ in range(30):
            started = time.perf_counter()
            turn()
            times.append(time.perf_counter() - started)
        out[str(size)] = {
            "cold_ms": cold * 1000,
            "per_turn_ms": statistics.median(times) * 1000,
            "kept_messages": len(fitted.messages),
            "dropped_turns": fitted.dropped_turns,
            "window": session.params.context_window,
        }
    return out


class _NullRenderer:
    def feed(self, text: str) -> None:
        pass

    def finish(self) -> None:
        pass


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _memory_worker(base_url: str, *, turns: int, reply_tokens: int, db: Path) -> dict[str, Any]:
    """A scripted session through the real client and store; resident memory at the end."""
    import resource

    from chatbot.store.database import Store
    from chatbot.store.journal import StoreJournal

    before = _rss_mb()
    store = Store.open(db)
    session = _session(base_url, journal=StoreJournal(store))
    renderer = _NullRenderer()
    after_first = 0.0
    times: list[float] = []
    for turn in range(turns):
        started = time.perf_counter()
        session.send(
            f"{spec_question(reply_tokens, chunk_chars=64)} turn {turn}", renderer=renderer
        )
        times.append(time.perf_counter() - started)
        if turn == 0:
            after_first = _rss_mb()
    store.close()
    # The first turn pays for importing the SDK; compare the next few with the last few.
    early, late = times[1:11] or times, times[-10:]
    return {
        "turns": turns,
        "messages": len(session.conversation.messages),
        "dropped_turns": session.dropped_turns,
        "seconds": sum(times),
        "early_turn_ms": statistics.median(early) * 1000,
        "late_turn_ms": statistics.median(late) * 1000,
        "rss_mb_start": before,
        "rss_mb_after_first_turn": after_first,
        "rss_mb_end": _rss_mb(),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --- helpers for the cases ------------------------------------------------------------


@dataclass(kw_only=True)
class Bench:
    sizes: Sizes
    server: BenchServer
    env: dict[str, str]
    cwd: Path
    report: Report

    @property
    def chatbot(self) -> list[str]:
        script = Path(sys.executable).with_name("chatbot")
        return [str(script)] if script.exists() else [sys.executable, "-m", "chatbot"]

    def naive(self, mode: str, question: str, *extra: str) -> list[str]:
        here = Path(__file__).resolve().with_name("naive.py")
        return [
            sys.executable,
            str(here),
            mode,
            "--base-url",
            self.server.base_url,
            "--api-key",
            API_KEY,
            "--question",
            question,
            *extra,
        ]

    def pty(self, argv: Sequence[str], *, steps: Sequence[Step] = ()) -> ProcessRun:
        run = run_in_pty(argv, env=self.env, cwd=self.cwd, steps=steps, timeout=self.sizes.timeout)
        return _ok(run, what=argv[-1])

    def pipe(self, argv: Sequence[str]) -> ProcessRun:
        return _ok(run_in_pipe(argv, env=self.env, cwd=self.cwd), what=argv[-1])

    def worker(self, *args: str) -> dict[str, Any]:
        argv = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
        done = subprocess.run(
            argv,
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=self.sizes.timeout,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"worker {args[0]} failed: {done.stderr[-1500:]}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        return "  " + "  ".join(
            [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
        )

    print(line(headers))
    for row in rows:
        print(line(row))


def _s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def _x(ratio: float) -> str:
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.0f}x"


def _kb(count: float) -> str:
    return f"{count / 1024:,.1f} KB" if count < 10 * 1024 * 1024 else f"{count / 2**20:,.1f} MB"


def _title(text: str) -> None:
    print(f"\n{text}")


# --- the cases ------------------------------------------------------------------------


def case_startup(bench: Bench) -> None:
    """1. Launch to prompt ready, against bare Python and against importing the SDK."""
    runs = bench.sizes.startup_runs
    _title(f"1. Start-up: launch in a {ROWS}x{COLS} pty until ready (median of {runs})")
    python = sys.executable
    # Ready: the prompt is drawn, and a key typed at it is echoed by prompt_toolkit.
    steps = (Step(expect=PROMPT, send=b"@"), Step(expect=b"@", send=b"\x7f\x04"))
    pass_times: list[float] = []
    openai_times: list[float] = []
    drawn: list[float] = []
    echoed: list[float] = []
    for run in range(bench.sizes.warm_up_rounds + runs):
        a = bench.pty([python, "-c", "pass"])
        b = bench.pty([python, "-c", "import openai"])
        c = bench.pty(bench.chatbot, steps=steps)
        if run >= bench.sizes.warm_up_rounds:
            pass_times.append(a.wall)
            openai_times.append(b.wall)
            drawn.append(c.mark(0))
            echoed.append(c.mark(1))
    bare, sdk = statistics.median(pass_times), statistics.median(openai_times)
    prompt, echo = statistics.median(drawn), statistics.median(echoed)
    rows = [
        ("python -c pass", bare),
        ('python -c "import openai"', sdk),
        ("chatbot: prompt drawn", prompt),
        ("chatbot: typed key echoed", echo),
    ]
    _table(
        ["command", "median", "vs python -c pass", "vs import openai"],
        [[name, _s(t), _x(t / bare), _x(t / sdk)] for name, t in rows],
    )
    bench.report.figures["startup"] = {
        "python_pass_s": bare,
        "import_openai_s": sdk,
        "prompt_drawn_s": prompt,
        "key_echoed_s": echo,
        "runs": runs,
    }
    bench.report.check(
        "startup", target="prompt ready (key echoed) < 0.3 s", measured=_s(echo), passed=echo < 0.3
    )
    bench.report.check(
        "startup",
        target="well under import openai (<= 0.5x)",
        measured=_x(echo / sdk),
        passed=echo <= 0.5 * sdk,
    )


def case_oneshot(bench: Bench) -> None:
    """2. ``chatbot "hi"`` down a pipe, against the SDK floor making the same request."""
    runs = bench.sizes.oneshot_runs
    _title(f'2. One-shot: chatbot "hi", stdout a pipe (median of {runs})')
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
    _table(
        ["client", "wall", "cpu", "wall vs floor"],
        [
            [
                "SDK floor (import openai, stream, print)",
                _s(f),
                _s(statistics.median(floor_cpu)),
                "1.00x",
            ],
            ['chatbot "hi"', _s(o), _s(statistics.median(ours_cpu)), _x(o / f)],
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
        "oneshot", target="within 1.15x of the SDK floor", measured=_x(o / f), passed=o <= 1.15 * f
    )


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
    runs = bench.sizes.render_runs
    small, large = bench.sizes.render_tokens
    _title(
        f"3. Render throughput: Markdown at ~1 token a chunk, as fast as the server can, "
        f"{ROWS}x{COLS} pty (median of {runs}; naive once)"
    )
    fakeserver = _fakeserver()
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
            ["raw SDK loop", str(tokens), _s(sdk), _s(entry["sdk_cpu_s"]), "-", "1.00x", "-"]
        )
        rows.append(
            [
                "chatbot --raw (no Markdown)",
                str(tokens),
                _s(raw),
                _s(entry["chatbot_raw_cpu_s"]),
                _kb(statistics.median([r.out_bytes for r in raw_runs])),
                _x(raw / sdk),
                "-",
            ]
        )
        rows.append(
            [
                "chatbot --markdown",
                str(tokens),
                _s(ours),
                _s(entry["chatbot_cpu_s"]),
                _kb(ours_bytes),
                _x(ours / sdk),
                _x(ours_bytes / final),
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
                    _s(naive.wall),
                    _s(naive.cpu),
                    _kb(naive.out_bytes),
                    _x(naive.wall / sdk),
                    _x(naive.out_bytes / final),
                ]
            )
        rows.append(["final render, once", str(tokens), "", "", _kb(final), "", "1.00x"])
        figures[str(tokens)] = entry
    _table(["client", "tokens", "wall", "cpu", "terminal", "wall vs SDK", "bytes vs final"], rows)
    bench.report.figures["render"] = figures
    big = figures[str(large)]
    ratio = big["chatbot_s"] / big["sdk_s"]
    bench.report.check(
        "render",
        target=f"wall <= 1.5x raw SDK at {large} tokens",
        measured=_x(ratio),
        passed=ratio <= 1.5,
    )
    for tokens in (small, large):
        entry = figures[str(tokens)]
        amplification = entry["chatbot_terminal_bytes"] / entry["final_render_bytes"]
        bench.report.check(
            "render",
            target=f"terminal bytes <= 3x final render at {tokens}",
            measured=_x(amplification),
            passed=amplification <= 3,
        )
    speedup = figures[str(small)]["naive_s"] / figures[str(small)]["chatbot_s"]
    bench.report.check(
        "render",
        target=f">= 50x faster than naive at {small}",
        measured=f"{_x(speedup)} faster",
        passed=speedup >= 50,
    )


def _calibrated_delay(bench: Bench, *, rate: float) -> float:
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
    _title(
        f"4. Paced stream: {sizes.paced_tokens} tokens at {sizes.paced_rate:g} tokens/s, "
        f"{ROWS}x{COLS} pty (median of {sizes.paced_runs})"
    )
    delay = _calibrated_delay(bench, rate=sizes.paced_rate)
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
                _s(medians["cpu"]),
                screen,
                f"{medians['exit'] * 1000:.0f} ms",
            ]
        )
    _table(["client", "server rate", "cpu", "last byte on screen", "process exit"], rows)
    print("  (both after the server's last byte; the SDK loop writes nothing to the screen)")
    bench.report.figures["paced"] = figures
    lag = figures["chatbot --markdown"]["screen"]
    bench.report.check(
        "paced",
        target="screen complete < 0.2 s after the last byte",
        measured=f"{lag * 1000:.0f} ms",
        passed=lag < 0.2,
    )


def case_conversation(bench: Bench) -> None:
    """5. Trimming a long history per turn, and memory after a long session."""
    sizes = bench.sizes
    _title(
        f"5. Long conversation: fitting the history per turn; memory after "
        f"{sizes.memory_turns} turns"
    )
    trim = bench.worker("trim", *map(str, sizes.trim_sizes))
    first = trim[str(sizes.trim_sizes[0])]
    rows = []
    for size in sizes.trim_sizes:
        entry = trim[str(size)]
        rows.append(
            [
                f"{size:,} messages",
                f"{entry['per_turn_ms']:.3f} ms",
                f"{entry['cold_ms']:.1f} ms",
                f"{entry['kept_messages']:,}",
                f"{entry['dropped_turns']:,}",
                _x(entry["per_turn_ms"] / first["per_turn_ms"]),
            ]
        )
    _table(
        ["history", "per turn", "first (cold)", "kept", "turns dropped", "vs smallest"],
        rows,
    )
    print(f"  (window {first['window']:,} tokens; each turn fits the history plus a new question)")
    db = Path(bench.env["CHATBOT_DATA_DIR"]) / "bench-memory.sqlite3"
    memory = bench.worker(
        "memory",
        bench.server.base_url,
        str(sizes.memory_turns),
        str(sizes.memory_reply_tokens),
        str(db),
    )
    _table(
        ["session", "RSS at start", "after turn 1", "at the end", "peak", "turns 2-11", "last 10"],
        [
            [
                f"{memory['turns']} turns, {memory['messages']:,} messages",
                f"{memory['rss_mb_start']:.0f} MB",
                f"{memory['rss_mb_after_first_turn']:.0f} MB",
                f"{memory['rss_mb_end']:.0f} MB",
                f"{memory['maxrss_mb']:.0f} MB",
                f"{memory['early_turn_ms']:.0f} ms",
                f"{memory['late_turn_ms']:.0f} ms",
            ]
        ],
    )
    print(
        f"  (each turn: a {sizes.memory_reply_tokens}-token reply through the real client and "
        f"store, no rendering; {memory['dropped_turns']} turns out of the window at the end)"
    )
    bench.report.figures["conversation"] = {"trim": trim, "memory": memory}
    largest, smallest = sizes.trim_sizes[-1], sizes.trim_sizes[0]
    per_turn = trim[str(largest)]["per_turn_ms"]
    growth = per_turn / first["per_turn_ms"]
    bench.report.check(
        "conversation",
        target=f"< 2 ms per turn at {largest:,} messages",
        measured=f"{per_turn:.3f} ms",
        passed=per_turn < 2,
    )
    bench.report.check(
        "conversation",
        target=f"growth {smallest:,} -> {largest:,} no worse than linear",
        measured=f"{_x(growth)} for {largest // smallest}x the messages",
        passed=growth <= largest / smallest,
    )
    bench.report.check(
        "conversation",
        target=f"RSS < 150 MB after {memory['turns']} turns",
        measured=f"{memory['rss_mb_end']:.0f} MB",
        passed=memory["rss_mb_end"] < 150,
    )


CASES: tuple[Callable[[Bench], None], ...] = (
    case_startup,
    case_oneshot,
    case_render,
    case_paced,
    case_conversation,
)


# --- entry points ---------------------------------------------------------------------


def _environment(home: Path) -> dict[str, str]:
    """A clean environment: nothing of the user's configuration leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "OPENAI_API_KEY": API_KEY,
        "CHATBOT_CONFIG_DIR": str(home / "config"),
        "CHATBOT_DATA_DIR": str(home / "data"),
        "CHATBOT_LOCAL": "0",
    }
    return env


def run_benchmark(sizes: Sizes, *, mode: str) -> Report:
    report = Report(mode=mode)
    with tempfile.TemporaryDirectory(prefix="chatbot-bench-") as tmp:
        home = Path(tmp)
        env = _environment(home)
        server = BenchServer(env=env, cwd=home)
        env["OPENAI_BASE_URL"] = server.base_url
        bench = Bench(sizes=sizes, server=server, env=env, cwd=home, report=report)
        print(
            f"chatbot benchmark ({mode}), {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f}, server {server.base_url}"
        )
        try:
            for case in CASES:
                case(bench)
        finally:
            server.close()
    passed = sum(c.passed for c in report.checks)
    print(f"\n{passed} of {len(report.checks)} targets met")
    for check in report.checks:
        if not check.passed:
            print(f"  MISS {check.case}: {check.target} (measured {check.measured})")
    return report


def _run_worker(args: Sequence[str]) -> int:
    kind, *rest = args
    if kind == "serve":
        return _serve()
    if kind == "trim":
        result = _trim_worker([int(n) for n in rest])
    elif kind == "memory":
        base_url, turns, reply_tokens, db = rest
        result = _memory_worker(
            base_url, turns=int(turns), reply_tokens=int(reply_tokens), db=Path(db)
        )
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark chatbot (see BENCHMARKS.md).")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write results here")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _run_worker(args.worker)
    mode = "quick" if args.quick else "full"
    try:
        report = run_benchmark(QUICK if args.quick else FULL, mode=mode)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    if args.json:
        payload = {
            "mode": report.mode,
            "load_average": os.getloadavg(),
            "checks": [asdict(c) for c in report.checks],
            "figures": report.figures,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
