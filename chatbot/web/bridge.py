"""The synchronous engine behind an asynchronous server: one thread per active turn.

The engine (session, tools, store) blocks; the web server must not. Each turn runs
on a thread of its own and puts its events into an :class:`asyncio.Queue` through
the event loop, and the streamed response reads that queue. The engine is never
handed to Starlette as a sync generator: anyio's small thread pool would then hold
every open stream and stall the server (measured in issue 20). :class:`TurnLimits`
caps how many turns run at once, in all and per user.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from chatbot.i18n import _, ngettext

__all__ = ["EventChannel", "TurnLimits", "run_on_thread"]

_END = object()


class EventChannel:
    """Events from a turn's thread to the response streaming them, in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False

    def emit(self, event: Mapping[str, object]) -> None:
        """Queue one event; callable from any thread, and a no-op once closed."""
        if self._closed:
            return
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line.encode())
        except RuntimeError:
            self._closed = True  # the loop has stopped: the server is going away

    def close(self) -> None:
        """No more events: the stream ends after those queued."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, _END)
        except RuntimeError:
            return

    async def lines(self) -> AsyncIterator[bytes]:
        """The events as newline-delimited JSON, until :meth:`close`."""
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            assert isinstance(item, bytes)
            # Send what else is already queued in the same write: fewer, fuller frames.
            batch = [item]
            while not self._queue.empty():
                more = self._queue.get_nowait()
                if more is _END:
                    yield b"".join(batch)
                    return
                assert isinstance(more, bytes)
                batch.append(more)
            yield b"".join(batch)


def run_on_thread(work: Callable[[], None], *, name: str) -> threading.Thread:
    """Start ``work`` on a daemon thread (a turn must not keep the process alive).

    It runs in a copy of the caller's context, so it speaks the request's language.
    """
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(work,), name=name, daemon=True)
    thread.start()
    return thread


@dataclass
class TurnLimits:
    """How many turns may run at once: in all, and for one user."""

    total: int
    per_user: int
    _running: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, user: str) -> str | None:
        """Take a place for ``user``'s turn; the reason (one line) when there is none."""
        with self._lock:
            if sum(self._running.values()) >= self.total:
                return _("the server is answering as many messages as it can; try again shortly")
            if self._running.get(user, 0) >= self.per_user:
                return ngettext(
                    "you already have a reply streaming; wait for it to finish, or stop it",
                    "you already have {count} replies streaming; "
                    "wait for one to finish, or stop it",
                    self.per_user,
                ).format(count=self.per_user)
            self._running[user] = self._running.get(user, 0) + 1
            return None

    def release(self, user: str) -> None:
        with self._lock:
            left = self._running.get(user, 0) - 1
            if left > 0:
                self._running[user] = left
            else:
                self._running.pop(user, None)

    @property
    def running(self) -> int:
        with self._lock:
            return sum(self._running.values())
