"""Case 5: a long conversation, per-turn trimming and memory, measured in worker processes.

``trim_worker`` and ``memory_worker`` run as ``python -m bench --worker trim|memory`` so
their timings and resident memory are the session's alone; ``case_conversation``
starts them and prints what they found. chatbot and ``tests.support.fakeserver`` are
imported inside the workers, so the memory worker's "RSS at start" is the bench's own.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import API_KEY, Bench, spec_question
from bench.report import format_ratio, print_table, print_title

if TYPE_CHECKING:
    from chatbot.conversation.history import FittedRequest
    from chatbot.conversation.session import ChatSession

__all__ = ["case_conversation", "memory_worker", "trim_worker"]


def _session(base_url: str, **kwargs: Any) -> ChatSession:
    """A ChatSession with the default persona and config, talking to ``base_url``."""
    from chatbot.api.client import ChatClient
    from chatbot.conversation.session import ChatSession
    from chatbot.settings.config import ConfigFlags, resolve_config
    from chatbot.settings.personas import load_personas

    config = resolve_config(flags=ConfigFlags(base_url=base_url), env={"OPENAI_API_KEY": API_KEY})
    client = ChatClient(api_key=API_KEY, base_url=base_url, timeout=60, max_retries=0)
    persona = load_personas().get("default")
    return ChatSession(config=config, persona=persona, backend=client, **kwargs)


def trim_worker(sizes: Sequence[int]) -> dict[str, Any]:
    """Time what each turn does before sending: fit the history plus the new question."""
    from chatbot.conversation.messages import Message, Role
    from tests.support import fakeserver

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
    """Takes the reply and shows nothing: the memory run measures the session, not rich."""

    def think(self, text: str) -> None:
        pass

    def feed(self, text: str) -> None:
        pass

    def finish(self) -> None:
        pass


def _rss_mb() -> float:
    """This process's resident memory (``VmRSS``) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_worker(base_url: str, *, turns: int, reply_tokens: int, db: Path) -> dict[str, Any]:
    """A scripted session through the real client and store; resident memory at the end."""
    import resource

    from chatbot.store.database import Store
    from chatbot.store.store_journal import StoreJournal

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


def case_conversation(bench: Bench) -> None:
    """5. Trimming a long history per turn, and memory after a long session."""
    sizes = bench.sizes
    print_title(
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
                format_ratio(entry["per_turn_ms"] / first["per_turn_ms"]),
            ]
        )
    print_table(
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
    print_table(
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
        measured=f"{format_ratio(growth)} for {largest // smallest}x the messages",
        passed=growth <= largest / smallest,
    )
    bench.report.check(
        "conversation",
        target=f"RSS < 150 MB after {memory['turns']} turns",
        measured=f"{memory['rss_mb_end']:.0f} MB",
        passed=memory["rss_mb_end"] < 150,
    )
