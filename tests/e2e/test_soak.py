"""A 500-turn conversation against a server that fails about one request in ten.

The faults are drawn from a seeded random generator, so a failure reproduces: 5xx,
429 with a short Retry-After, a dropped stream, a malformed SSE line, an SSE error
event before or after text, a context-length refusal and a hang past the timeout.
After each failure the script does what a user would: /retry, /undo, or just goes on.

At the end nothing but ChatbotError has escaped, no file descriptor or connection has
leaked, memory grew only by the conversation itself, and the store holds exactly the
conversation in memory, message by message, content and status.
"""

from __future__ import annotations

import gc
import os
import random
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatbot.api.client import ChatClient
from chatbot.conversation.retry import RetryPolicy, sleeping_waiter
from chatbot.conversation.session import ChatSession
from chatbot.errors import ApiError, ChatbotError
from chatbot.settings.config import ConfigFlags, resolve_config
from chatbot.settings.personas import load_personas
from chatbot.store.database import Store
from chatbot.store.store_journal import StoreJournal
from tests.support.fakeserver import FakeOpenAIServer, RecordedRequest, Reply
from tests.support.faultkit import KEY, transcript
from tests.support.helpers import RecordingRenderer

TURNS = 500
SEED = 20_260_501
FAULT_RATE = 0.1
TIMEOUT = 0.4
WARM_UP = 20
#: Turns at the end whose allocations are traced.
TRACED = 100
WORDS = [
    "stream",
    "token",
    "budget",
    "reply",
    "render",
    "retry",
    "server",
    "client",
    "store",
    "persona",
]

#: Each fault a server can produce, built fresh for every request.
FAULTS: dict[str, Callable[[random.Random], Reply]] = {
    "http-500": lambda _: Reply(status=500),
    "http-502": lambda _: Reply(status=502),
    "http-503": lambda _: Reply(status=503),
    "http-429": lambda _: Reply(status=429, headers={"retry-after-ms": "2"}),
    "context-length": lambda _: Reply(status=400, context_length_error=True),
    "dropped": lambda rng: Reply(
        text="a reply cut short " * 4, drop_after_chars=rng.randint(1, 60)
    ),
    "malformed": lambda _: Reply(text="a reply with a broken line in it", malformed_line=True),
    "sse-error-mid": lambda _: Reply(text="a reply then", sse_error={"message": "boom"}),
    "sse-error-first": lambda _: Reply(text="", sse_error={"message": "boom"}),
    "hang": lambda _: Reply(hang=True),
}


class FaultyServer:
    """Answers normally, except for one request in ten that fails in a random way."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.injected: Counter[str] = Counter()
        self.answered = 0

    def __call__(self, body: dict[str, Any]) -> Reply:
        if self.rng.random() < FAULT_RATE:
            kind = self.rng.choice(sorted(FAULTS))
            self.injected[kind] += 1
            return FAULTS[kind](self.rng)
        self.answered += 1
        words = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(3, 30)))
        return Reply(text=f"answer {self.answered}: {words}", chunk_chars=self.rng.randint(4, 40))


def resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def established(port: int) -> int:
    """TCP connections in ESTABLISHED state with ``port`` at either end."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                rows = handle.readlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            local, remote, state = fields[1], fields[2], fields[3]
            ports = {int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)}
            if state == "01" and port in ports:
                count += 1
    return count


def settled(measure: Callable[[], int], target: int, *, slack: int, seconds: float = 3.0) -> int:
    """``measure()`` once it is within ``slack`` of ``target`` (servers close lazily)."""
    deadline = time.monotonic() + seconds
    value = measure()
    while abs(value - target) > slack and time.monotonic() < deadline:
        time.sleep(0.05)
        value = measure()
    return value


class ForgetfulServer(FakeOpenAIServer):
    """Keeps no copy of each request: over a soak those would swamp the memory check."""

    def _record(self, request: RecordedRequest) -> None:
        self.received += 1

    received = 0


def make_session(base_url: str, store: Store) -> ChatSession:
    config = resolve_config(
        flags=ConfigFlags(base_url=base_url, timeout=TIMEOUT, context_window=1500),
        env={"OPENAI_API_KEY": KEY},
    )
    client = ChatClient(api_key=KEY, base_url=base_url, timeout=TIMEOUT, max_retries=0)
    return ChatSession(
        config=config,
        persona=load_personas().get("default"),
        backend=client,
        journal=StoreJournal(store),
        retry_policy=RetryPolicy(attempts=2, max_wait=0.01, base=0.002),
        waiter=sleeping_waiter,
    )


@pytest.mark.soak
def test_500_turns_with_random_faults_stay_consistent(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    faulty = FaultyServer(random.Random(SEED + 1))
    store = Store.open(tmp_path / "conversations.sqlite3")
    failures: Counter[str] = Counter()
    with ForgetfulServer(responder=faulty) as server:
        session = make_session(server.base_url, store)
        journal = session.journal
        assert isinstance(journal, StoreJournal)

        def stored() -> list[tuple[str, str, str]]:
            assert journal.conversation_id is not None
            return transcript(store.load_conversation(journal.conversation_id).messages)

        def attempt(action: Callable[[], object]) -> None:
            try:
                action()
            except ChatbotError as exc:  # anything else escapes and fails the test
                failures[type(exc).__name__] += 1
                if isinstance(exc, ApiError) and rng.random() < 0.5:
                    attempt(lambda: session.retry(renderer=RecordingRenderer()))
                elif rng.random() < 0.1:
                    session.undo()

        def turn(n: int) -> None:
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40)))
            attempt(lambda: session.send(f"question {n}: {words}", renderer=RecordingRenderer()))

        for n in range(WARM_UP):  # the SDK, the store, the server's threads
            turn(n)
        gc.collect()
        fds_before = open_fds()
        started = time.monotonic()
        for n in range(WARM_UP, TURNS // 2):
            turn(n)
            if n % 50 == 0:
                assert transcript(session.conversation.messages) == stored()
        gc.collect()
        rss_half = resident_bytes()
        for n in range(TURNS // 2, TURNS):
            if n == TURNS - TRACED:
                # tracemalloc slows every allocation: only the last turns are traced.
                gc.collect()
                tracemalloc.start()
            turn(n)
            if n % 50 == 0:
                assert transcript(session.conversation.messages) == stored()
        gc.collect()
        traced, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_growth = resident_bytes() - rss_half
        elapsed = time.monotonic() - started

        assert transcript(session.conversation.messages) == stored()
        # Measured with the client still open, so a pooled leak cannot hide behind close().
        assert settled(open_fds, fds_before, slack=2) - fds_before <= 2
        assert settled(lambda: established(server.port), 0, slack=0) == 0
        session.backend.close()
        assert server.errors == []
    store.close()

    # The faults really happened, in every kind, and the chat went on regardless.
    assert sum(faulty.injected.values()) >= TURNS * FAULT_RATE * 0.7
    assert set(faulty.injected) == set(FAULTS)
    assert sum(failures.values()) >= 20
    assert session.conversation.user_turns() >= TURNS * 0.8
    # What the last turns leave behind is their messages (~1 kB a turn); a leak per
    # request or per failure would show here.
    assert traced < 1024 * 1024, f"{traced:,} bytes still held from the last {TRACED} turns"
    assert rss_growth < 16 * 1024 * 1024, f"RSS grew {rss_growth:,} bytes in the second half"
    assert elapsed < 60
