"""One turn in flight in a browser: its events, its Stop, and the tool question it waits on.

The engine runs the turn on a thread of its own; everything it shows goes out as
events (:meth:`WebTurn.emit`). A tool call's approval blocks that thread in
:meth:`WebTurn.ask` until the page answers Run, Deny or Always, or Stop is pressed;
a retry's wait blocks in :meth:`WebTurn.wait_to_retry`, which Stop also ends.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

from chatbot.api.cancel import Cancellation, StreamCancelled
from chatbot.conversation.retry import RetryWait
from chatbot.render.sanitize import sanitize
from chatbot.tools.display import progress_text
from chatbot.tools.output import visible

__all__ = ["TurnDisplay", "WebTurn"]

_VERDICTS = {"run": "y", "deny": "n", "always": "a"}
_FULL_ARGUMENTS = 4000


class WebTurn:
    """A turn's events and controls, shared by its thread and the requests about it."""

    def __init__(self, *, user: str, emit: Callable[[Mapping[str, object]], None]) -> None:
        self.id = secrets.token_urlsafe(12)
        self.user = user
        self.cancel = Cancellation()
        self._emit = emit
        self._lock = threading.Lock()
        self._answered = threading.Event()
        self._answer: str | None = None
        self._question: dict[str, object] | None = None
        self.cancel.on_cancel(self._answered.set)

    def emit(self, event: Mapping[str, object]) -> None:
        self._emit(event)

    def stop(self) -> None:
        """Stop everything the turn is doing: the stream, a tool question, a retry's wait."""
        self.cancel.cancel()

    # -- tool approval -------------------------------------------------------------

    def prepare_question(self, name: str, arguments: Mapping[str, Any], *, shell: bool) -> None:
        """What the next question is about (the display hears it just before the ask)."""
        if shell:
            shown = visible(str(arguments.get("command", "")))
        else:
            shown = visible(json.dumps(arguments, ensure_ascii=False, indent=1))
        if len(shown) > _FULL_ARGUMENTS:
            shown = shown[:_FULL_ARGUMENTS] + f"… ({len(shown):,} characters in all)"
        self._question = {"name": sanitize(name), "arguments": shown, "shell": shell}

    def ask(self, question: str) -> str:
        """The approver's asker: show Run / Deny (/ Always) and wait for the page's answer."""
        with self._lock:
            self._answered.clear()
            self._answer = None
        details = self._question or {"name": "?", "arguments": "", "shell": False}
        self._question = None
        # "always" is offered exactly when the terminal would offer it (never for the shell).
        always = "a = always" in question
        self.emit({"t": "ask", **details, "always": always})
        self._answered.wait()
        if self.cancel.cancelled:
            raise StreamCancelled
        with self._lock:
            answer = self._answer or "n"
        self.emit({"t": "answered", "verdict": answer})
        return answer

    def answer(self, verdict: str) -> bool:
        """The page's Run, Deny or Always; False when nothing is being asked."""
        code = _VERDICTS.get(verdict)
        if code is None:
            return False
        with self._lock:
            if self._answered.is_set():
                return False
            self._answer = code
        self._answered.set()
        return True

    # -- waiting ---------------------------------------------------------------------

    def wait_to_retry(self, wait: RetryWait) -> None:
        """The session's waiter: say why and how long, then wait unless Stop comes first."""
        self.emit(
            {
                "t": "retrying",
                "seconds": round(wait.seconds, 1),
                "attempt": wait.attempt,
                "attempts": wait.attempts,
                "reason": sanitize(wait.reason),
            }
        )
        if self.cancel.wait(wait.seconds):
            raise StreamCancelled


class TurnDisplay:
    """A :class:`~chatbot.tools.display.ToolDisplay` that sends tool activity to the page.

    A conversation keeps one toolbox; this routes its lines to whichever turn runs now.
    """

    def __init__(self) -> None:
        self.turn: WebTurn | None = None

    def _emit(self, event: Mapping[str, object]) -> None:
        if self.turn is not None:
            self.turn.emit(event)

    def ask(self, question: str) -> str:
        """The toolbox's asker: the running turn asks its page; with none, nobody said yes."""
        if self.turn is None:
            raise EOFError
        return self.turn.ask(question)

    def ask_about(self, name: str, arguments: Mapping[str, Any], *, shell: bool) -> None:
        if self.turn is not None:
            self.turn.prepare_question(name, arguments, shell=shell)

    def start(self, number: int, name: str, brief: str) -> None:
        self._emit({"t": "tool", "n": number, "name": sanitize(name), "brief": brief})

    def progress(self, done: float, total: float | None, message: str | None) -> None:
        self._emit({"t": "tool_progress", "text": progress_text(done, total, message)})

    def stop_ticking(self) -> None:
        """Nothing ticks in the page: the server's progress events are the only redraws."""

    def finish(self, outcome: str, *, ok: bool = True) -> None:
        self._emit({"t": "tool_done", "outcome": sanitize(outcome), "ok": ok})

    def cancelled(self, number: int, name: str) -> None:
        self._emit({"t": "tool_done", "outcome": "cancelled", "ok": False})

    def line(self, number: int, name: str, brief: str, outcome: str) -> None:
        self._emit(
            {
                "t": "tool",
                "n": number,
                "name": sanitize(name),
                "brief": brief,
                "outcome": sanitize(outcome),
            }
        )

    def notice(self, text: str) -> None:
        self._emit({"t": "notice", "level": "warning", "text": sanitize(text)})

    def hint(self, text: str) -> None:
        self._emit({"t": "notice", "level": "hint", "text": sanitize(text)})
