"""How chatbot's costs grow with its conversation store: start-up, resume, listing, search.

``.venv/bin/python bench/store_scale.py`` builds a store of 150,000 messages through
``chatbot import`` of JSON exports (``--scale``: on to about 1 GB; ``--quick``: tiny),
and at each checkpoint measures prompt ready (pty, as bench/run.py does), a one-shot,
``--session`` on a 2,000-message conversation, ``sessions`` and ``sessions --search``,
interleaved round by round with the same command on an empty store (for ``--session``:
a store of one 6-message conversation, the same replay without the history). It prints
medians (wall and CPU) side by side, then the targets with PASS or MISS. BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import json
import os
import random
import resource
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
ROWS, COLS = 40, 120
_CPR_REQUEST = b"\x1b[6n"
#: Drawn with the prompt (its bottom toolbar). The replay of a resumed conversation
#: shows the prompt mark before each turn, so that mark alone is seen too early.
READY = b"session 0 tokens"
API_KEY = "sk-bench-not-a-secret"
LONG_MESSAGES = 2_000
MESSAGES_PER_CONVERSATION = 500
SEARCHES = {
    "hit": "kestrel",  # in about 1 message of 500
    "common": "database",  # in about 1 message of 8
    "miss": "zyzzogeton",
    "CJK": "京都に",  # Japanese, no spaces, in about 1 message of 100
}

_VOCABULARY = (
    "the a to of and in is it you that for on with this be are as can not have use "
    "your if or by from will an at what file code run error value function return "
    "config server request time data list set new test line change need should check "
    "would about more then there when which make like just also only first other into "
    "because model token memory cache index query table column thread process signal"
)
_WORDS = _VOCABULARY.split()
_JAPANESE = ("東京都に住んでいます。", "京都に行きました。", "大阪の天気はどうですか。")


# --- children in a pty or a pipe (the minimum of bench/run.py's runner) --------------


def _children_cpu() -> float:
    # The server child is never reaped while measuring, so the change over one run
    # is that run's child alone: CPU time is steadier than wall time on a busy machine.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_in_pty(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    steps: Sequence[tuple[bytes, bytes]],
    timeout: float = 120.0,
) -> tuple[float, float]:
    """Seconds until the last step's text appeared, and the child's CPU seconds.

    Each step waits for its text on the terminal, then types its keys; cursor
    position queries are answered as a terminal would.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    cpu, started = _children_cpu(), time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    os.close(slave)
    pending, seen, last = list(steps), bytearray(), started
    try:
        while True:
            if time.monotonic() - started > timeout:
                os.kill(proc.pid, signal.SIGKILL)
                raise SystemExit(f"{argv} took over {timeout:g} s")
            if not select.select([master], [], [], 1.0)[0]:
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                break  # the child has exited and the terminal is drained
            if not data:
                break
            if _CPR_REQUEST in data:
                os.write(master, b"\x1b[%d;1R" % ROWS)
            seen += data
            while pending and (found := seen.find(pending[0][0])) >= 0:
                last = time.monotonic()
                del seen[: found + len(pending[0][0])]
                os.write(master, pending.pop(0)[1])
    finally:
        os.close(master)
        proc.wait()
    if pending or proc.returncode != 0:
        raise SystemExit(
            f"{argv} exited {proc.returncode} before {pending[:1]}: {bytes(seen)[-400:]!r}"
        )
    return last - started, _children_cpu() - cpu


def run_in_pipe(argv: Sequence[str], *, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Seconds from launch to exit with stdout a pipe and stdin empty, and CPU seconds."""
    cpu, started = _children_cpu(), time.monotonic()
    done = subprocess.run(
        list(argv), stdin=subprocess.DEVNULL, capture_output=True, env=env, cwd=cwd, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr[-400:]!r}")
    return time.monotonic() - started, _children_cpu() - cpu


# --- the store's content ----------------------------------------------------------------


def _sentence(rng: random.Random, words: int) -> str:
    picked = [rng.choice(_WORDS) for _ in range(words)]
    if rng.random() < 0.3:
        at = rng.randrange(len(picked))
        picked[at] = f"**{picked[at]}**"
    if rng.random() < 0.2:
        picked.append(f"`{rng.choice(_WORDS)}_{rng.randrange(1000)}`")
    return " ".join(picked).capitalize() + "."


def _text(rng: random.Random, *, reply: bool) -> str:
    """A question (~100 characters) or a reply (~700), with a little Markdown."""
    sentences = [
        _sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(5, 9) if reply else 1)
    ]
    if rng.random() < 1 / 500:
        sentences.append("A kestrel hovered over the field.")
    if rng.random() < 1 / 8:
        sentences.append("Check the database first.")
    if rng.random() < 1 / 100:
        sentences.append(rng.choice(_JAPANESE))
    return " ".join(sentences)


def export(rng: random.Random, *, number: int, messages: int) -> dict[str, object]:
    """One conversation in chatbot's JSON export format (chatbot/store/export.py)."""
    start = 1_700_000_000.0 + number * 3600
    return {
        "format": "chatbot-conversation",
        "version": 1,
        "title": f"Conversation {number}: " + _sentence(rng, 4),
        "persona": "default",
        "model": "gpt-4o-mini",
        "system_prompt": "You are a helpful assistant.",
        "created_at": start,
        "messages": [
            {
                "role": "assistant" if n % 2 else "user",
                "content": _text(rng, reply=bool(n % 2)),
                "created_at": start + n,
            }
            for n in range(messages)
        ],
    }


def import_worker(db: str, first: int, count: int, seed: int, size: int | None = None) -> int:
    """Worker: ``chatbot import`` conversations ``first``.. into ``db``, in this process."""
    from chatbot.cli import main as chatbot

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="chatbot-scale-") as tmp:
        path = Path(tmp) / "conversation.json"
        for number in range(first, first + count):
            messages = size or (LONG_MESSAGES if number == 0 else MESSAGES_PER_CONVERSATION)
            path.write_text(json.dumps(export(rng, number=number, messages=messages)), "utf-8")
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                status = chatbot(["--db", db, "import", str(path)])
            if status != 0:
                return status
    return 0


def serve_worker() -> int:
    """Worker: the fake OpenAI server (it echoes each question) until stdin closes."""
    sys.path.insert(0, str(ROOT))
    from tests.support.fakeserver import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        print(server.base_url, flush=True)
        sys.stdin.read()
    return 0


Sample = tuple[float, float]  # (wall seconds, CPU seconds)
Figures = dict[str, tuple[Sample, Sample]]  # case -> (empty store, this store)


#: Conversations in the store at each checkpoint, and runs of each case there.
FULL, SCALE, QUICK = ((75, 150, 300), 7), ((300, 900, 1800), 5), ((2,), 1)


class Bench:
    def __init__(self, *, home: Path, runs: int) -> None:
        self.home = home
        self.runs = runs
        self.server = subprocess.Popen(
            [sys.executable, __file__, "--worker", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.server.stdout is not None
        base_url = self.server.stdout.readline().strip()
        self.env = dict(
            PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=str(home), LANG="C.UTF-8",
            TERM="xterm-256color", OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=base_url,
            CHATBOT_CONFIG_DIR=str(home / "config"), CHATBOT_DATA_DIR=str(home / "data"),
            CHATBOT_LOCAL="0",
        )  # fmt: skip
        script = Path(sys.executable).with_name("chatbot")
        self.chatbot = [str(script)] if script.exists() else [sys.executable, "-m", "chatbot"]

    def close(self) -> None:
        assert self.server.stdin is not None
        self.server.stdin.close()
        self.server.wait(timeout=10)

    def prompt_ready(self, db: Path, *extra: str) -> Sample:
        steps = ((READY, b"@"), (b"@", b"\x7f\x04"))
        argv = [*self.chatbot, "--db", str(db), *extra]
        return run_in_pty(argv, env=self.env, cwd=self.home, steps=steps)

    def piped(self, db: Path, *args: str) -> Sample:
        return run_in_pipe([*self.chatbot, "--db", str(db), *args], env=self.env, cwd=self.home)

    def measure(self, *, empty: Path, store: Path) -> Figures:
        """Medians of each case against ``empty`` and ``store``, runs interleaved."""
        tiny = empty.with_name("tiny.sqlite3")  # one 6-message conversation
        cases: dict[str, Callable[[Path], Sample]] = {
            "prompt ready": lambda db: self.prompt_ready(db),
            "one-shot": lambda db: self.piped(db, "hi"),
            "resume 2,000 messages": lambda db: self.prompt_ready(
                tiny if db == empty else db, "--session", "1"
            ),
            "sessions": lambda db: self.piped(db, "sessions"),
        }
        for name, word in SEARCHES.items():
            cases[f"search {name}"] = functools.partial(self._search, word=word)
        seen: dict[str, tuple[list[Sample], list[Sample]]] = {n: ([], []) for n in cases}
        for _ in range(self.runs):
            for name, case in cases.items():
                seen[name][0].append(case(empty))
                seen[name][1].append(case(store))
        return {name: (_median(a), _median(b)) for name, (a, b) in seen.items()}

    def _search(self, db: Path, *, word: str) -> Sample:
        return self.piped(db, "sessions", "--search", word)


def _median(samples: list[Sample]) -> Sample:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def _grow(db: Path, *, have: int, want: int, seed: int, size: int | None = None) -> None:
    worker = ["--worker", "import", *map(str, (db, have, want - have, seed, size or 0))]
    done = subprocess.run([sys.executable, __file__, *worker], cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"import failed with status {done.returncode}")


def _messages(conversations: int) -> int:
    rest = max(0, conversations - 1) * MESSAGES_PER_CONVERSATION
    return (LONG_MESSAGES if conversations else 0) + rest


def _size(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _x(ratio: float) -> str:
    return f"{ratio:.2f}x"


def _print_checkpoint(row: dict[str, object], figures: Figures) -> None:
    print(
        f"\n{row['conversations']:,} conversations, {row['messages']:,} messages, "
        f"{int(str(row['bytes'])) / 2**20:,.1f} MB (built in {float(str(row['build_s'])):.0f} s)"
    )
    head = ("case", "empty", "this store", "ratio", "CPU empty", "CPU store", "ratio")
    print(f"  {head[0]:<22}" + "".join(f"{h:>11}" for h in head[1:]))
    for name, ((a, ac), (b, bc)) in figures.items():
        cells = (_ms(a), _ms(b), _x(b / a), _ms(ac), _ms(bc), _x(bc / ac))
        print(f"  {name:<22}" + "".join(f"{c:>11}" for c in cells))


def _print_verdicts(figures: Figures) -> None:
    """The issue's targets at the largest store, on wall time and on CPU time."""
    print(f"\ntargets at the largest store:{'wall':>28}{'CPU':>17}")
    for which, target in (
        ("prompt ready", "prompt ready within 10% of empty"),
        ("resume 2,000 messages", "resume < 1.2x the empty-store prompt"),
    ):
        limit = 1.10 if which == "prompt ready" else 1.2
        cells = []
        for part in (0, 1):
            ratio = figures[which][1][part] / figures["prompt ready"][0][part]
            cells.append(f"{_x(ratio):>9} {'PASS' if ratio <= limit else 'MISS'}")
        print(f"  {target:<40}" + "".join(f"{c:>17}" for c in cells))
    for name in SEARCHES:
        cells = []
        for part in (0, 1):
            extra = figures[f"search {name}"][1][part] - figures["sessions"][1][part]
            cells.append(f"{_ms(extra):>9} {'PASS' if extra < 0.05 else 'MISS'}")
        print(
            f"  {'search ' + name + ': < 50 ms beyond listing':<40}"
            + "".join(f"{c:>17}" for c in cells)
        )


def run(plan: tuple[tuple[int, ...], int], *, json_path: Path | None) -> int:
    results: list[dict[str, object]] = []
    figures: Figures = {}
    with tempfile.TemporaryDirectory(prefix="chatbot-scale-") as tmp:
        home = Path(tmp)
        checkpoints, runs = plan
        bench = Bench(home=home, runs=runs)
        empty, store = home / "empty.sqlite3", home / "store.sqlite3"
        have = 0
        try:
            bench.piped(empty, "sessions")  # creates the empty store
            _grow(home / "tiny.sqlite3", have=0, want=1, seed=0, size=6)
            for want in checkpoints:
                started = time.monotonic()
                _grow(store, have=have, want=want, seed=want)
                have = want
                row: dict[str, object] = {
                    "conversations": have,
                    "messages": _messages(have),
                    "bytes": _size(store),
                    "build_s": time.monotonic() - started,
                }
                figures = bench.measure(empty=empty, store=store)
                row["figures"] = {n: {"empty": a, "store": b} for n, (a, b) in figures.items()}
                results.append(row)
                _print_checkpoint(row, figures)
        finally:
            bench.close()
    _print_verdicts(figures)
    if json_path is not None:
        payload = {"load_average": os.getloadavg(), "results": results}
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Store-size benchmark (see BENCHMARKS.md).")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--scale", action="store_true", help="go on to about 1 GB")
    size.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write the figures here")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "serve":
            return serve_worker()
        db, first, count, seed, *size = rest
        return import_worker(db, int(first), int(count), int(seed), *map(int, size))
    plan = SCALE if args.scale else QUICK if args.quick else FULL
    return run(plan, json_path=args.json)


if __name__ == "__main__":
    raise SystemExit(main())
