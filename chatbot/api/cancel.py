"""Stopping a stream from another thread: the web's Stop button is the terminal's Ctrl-C.

A terminal stops a reply with Ctrl-C, which raises KeyboardInterrupt in the thread
reading the stream. A web page has no such signal: its Stop arrives on another
thread. A :class:`Cancellation` travels with the request; the backend registers how
to abort what it has open (shutting the HTTP response's socket, which wakes a read
blocked on a silent server), and :meth:`Cancellation.cancel` runs that at once. The
reading thread then sees :class:`StreamCancelled`, a KeyboardInterrupt, so every
place that already handles Ctrl-C (keep what arrived, stop the tool round, cancel
a retry's wait) handles Stop the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Cancellation", "StreamCancelled"]


class StreamCancelled(KeyboardInterrupt):
    """The user stopped the reply from elsewhere (the web's Stop): handled as Ctrl-C."""


class Cancellation:
    """A one-way switch another thread can flip to abort the stream it travels with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._aborts: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        """Flip the switch and abort everything registered; safe to call twice."""
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            aborts, self._aborts = self._aborts, []
        for abort in aborts:
            _quietly(abort)

    def on_cancel(self, abort: Callable[[], None]) -> Callable[[], None]:
        """Run ``abort`` when cancelled (at once if already); returns what unregisters it."""
        with self._lock:
            if not self._event.is_set():
                self._aborts.append(abort)
                return lambda: self._forget(abort)
        _quietly(abort)
        return lambda: None

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise StreamCancelled

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when cancelled meanwhile (a retry's wait)."""
        return self._event.wait(seconds)

    def _forget(self, abort: Callable[[], None]) -> None:
        with self._lock:
            if abort in self._aborts:
                self._aborts.remove(abort)


def _quietly(abort: Callable[[], None]) -> None:
    # Aborting is best effort: a socket already closed by the server is not an error.
    try:
        abort()
    except Exception:
        return
