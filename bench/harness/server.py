"""The bench server: ``tests.support.fakeserver`` in a worker process, timing each stream.

The question names the reply (see ``spec_question``). The worker prints
``time.monotonic()`` (system-wide ``CLOCK_MONOTONIC``) when each stream's first and
last bytes left, so the bench can compare them with what its children showed.

``tests.support.fakeserver`` is imported inside ``serve``, not at the top: it pulls in
``http.server`` and ``ssl`` (about 8 MB), which would show in the memory worker's
"RSS at start".
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness.terminal import BenchError

if TYPE_CHECKING:
    from tests.support.fakeserver import Reply

__all__ = [
    "ROOT",
    "THINKING_FORMS",
    "BenchServer",
    "serve",
    "spec_question",
    "thinking_question",
    "worker_command",
]

#: The repository root: ``bench`` and ``tests`` are importable from here.
ROOT = Path(__file__).resolve().parents[2]
# A question of this shape makes the bench server stream a Markdown sample:
# "bench md TOKENS CHUNK_CHARS DELAY [anything]".
_SPEC = "bench md"
# And this one a reasoning model's reply: thinking, then the Markdown sample.
# "bench think THINKING_TOKENS ANSWER_TOKENS CHUNK_CHARS DELAY FORM".
_THINK_SPEC = "bench think"
#: How the thinking is sent: in ``delta.reasoning_content``, or inline in ``<think>``.
THINKING_FORMS = ("reasoning_content", "inline")


def worker_command(*args: str, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """argv and environment for ``python -m bench --worker ARGS``.

    Workers run in the bench's temporary directory, as every child does (chatbot reads
    ``.env`` from its working directory), so ``PYTHONPATH`` names the repository root
    for ``bench`` and ``tests`` to be importable there.
    """
    argv = [sys.executable, "-m", "bench", "--worker", *args]
    return argv, {**env, "PYTHONPATH": str(ROOT)}


def spec_question(tokens: int, *, chunk_chars: int = 4, delay: float = 0.0) -> str:
    """The question that makes the bench server stream ``tokens`` tokens of Markdown."""
    return f"{_SPEC} {tokens} {chunk_chars} {delay:g}"


def thinking_question(
    thinking: int, answer: int, *, form: str, chunk_chars: int = 4, delay: float = 0.0
) -> str:
    """The question that makes the bench server think ``thinking`` tokens, then answer."""
    return f"{_THINK_SPEC} {thinking} {answer} {chunk_chars} {delay:g} {form}"


class BenchServer:
    """The fake server in a subprocess, and the times it finished each stream."""

    def __init__(self, *, env: dict[str, str], cwd: Path) -> None:
        argv, worker_env = worker_command("serve", env=env)
        self._proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, env=worker_env, cwd=cwd, text=True
        )
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.close()
            raise BenchError(f"the bench server did not start: {self.base_url!r}")
        self._streams: queue.Queue[tuple[float, float]] = queue.Queue()
        threading.Thread(target=self._follow, name="bench-server", daemon=True).start()

    def _follow(self) -> None:
        """Read the server's ``stream FIRST LAST`` lines into the queue."""
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            words = line.split()
            if len(words) == 3 and words[0] == "stream":
                self._streams.put((float(words[1]), float(words[2])))

    def forget_streams(self) -> None:
        """Drop the streams reported so far, so the next one is the next request's."""
        while not self._streams.empty():
            self._streams.get_nowait()

    def next_stream(self, *, timeout: float = 10.0) -> tuple[float, float]:
        """(first byte, last byte) of the next finished stream, as ``time.monotonic()``."""
        try:
            return self._streams.get(timeout=timeout)
        except queue.Empty:
            raise BenchError("the bench server never finished a stream") from None

    def close(self) -> None:
        """Stop the server process."""
        self._proc.terminate()
        self._proc.wait(timeout=10)


def serve() -> int:
    """Worker: serve Markdown samples named by the question; report each stream's end."""
    from tests.support import fakeserver

    samples: dict[int, str] = {}
    thoughts: dict[int, str] = {}

    def think(words: list[str]) -> Reply:
        thinking, answer, chunk_chars = int(words[2]), int(words[3]), int(words[4])
        delay, form = float(words[5]), words[6]
        if answer not in samples:
            samples[answer] = fakeserver.markdown_sample(answer)
        if thinking not in thoughts:
            thoughts[thinking] = fakeserver.thinking_sample(thinking)
        if form == "inline":
            text = f"<think>\n{thoughts[thinking]}\n</think>\n\n{samples[answer]}"
            return fakeserver.Reply(text=text, chunk_chars=chunk_chars, delay=delay)
        return fakeserver.Reply(
            text=samples[answer],
            reasoning=thoughts[thinking],
            chunk_chars=chunk_chars,
            delay=delay,
        )

    def respond(body: dict[str, Any]) -> Reply | None:
        messages = body.get("messages") or [{}]
        words = str(messages[-1].get("content", "")).split()
        if len(words) == 7 and " ".join(words[:2]) == _THINK_SPEC:
            return think(words)
        if len(words) < 5 or " ".join(words[:2]) != _SPEC:
            return None  # the default: echo the question
        tokens, chunk_chars, delay = int(words[2]), int(words[3]), float(words[4])
        if tokens not in samples:
            samples[tokens] = fakeserver.markdown_sample(tokens)
        return fakeserver.Reply(text=samples[tokens], chunk_chars=chunk_chars, delay=delay)

    class TimedHandler(fakeserver._Handler):
        """Records when the last byte of each stream left (the fake has no hook)."""

        def _stream(
            self, model: str, text: str, reply: Reply, usage: dict[str, int] | None
        ) -> None:
            # time.monotonic() is CLOCK_MONOTONIC: comparable across processes.
            first = time.monotonic()
            super()._stream(model, text, reply, usage)
            print(f"stream {first:.6f} {time.monotonic():.6f}", flush=True)

    server = fakeserver.FakeOpenAIServer(responder=respond).start()
    # socketserver builds a handler per request from this attribute, so swapping it
    # after start() times every later stream without changing the fake itself.
    assert server._httpd is not None
    server._httpd.RequestHandlerClass = TimedHandler
    print(server.base_url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        threading.Event().wait()
    finally:
        server.close()
    return 0
