"""What every request handler of the web chat shares: the engine, the users' workspaces,
the turn limits and the turns now running.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chatbot.web.bridge import TurnLimits
from chatbot.web.credentials import Credentials
from chatbot.web.session_cookie import SessionSigner
from chatbot.web.turn import WebTurn
from chatbot.web.workspaces import Workspaces

if TYPE_CHECKING:
    from chatbot.web.engine_link import WebEngine

__all__ = ["RunningTurns", "WebContext"]


@dataclass
class RunningTurns:
    """Turns in flight by id, so Stop and the tool buttons reach the right one."""

    _turns: dict[str, WebTurn] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, turn: WebTurn) -> None:
        with self._lock:
            self._turns[turn.id] = turn

    def remove(self, turn: WebTurn) -> None:
        with self._lock:
            self._turns.pop(turn.id, None)

    def find(self, turn_id: str, *, user: str) -> WebTurn | None:
        """The turn, only if it is ``user``'s own."""
        with self._lock:
            turn = self._turns.get(turn_id)
        return turn if turn is not None and turn.user == user else None

    def stop_all(self) -> None:
        with self._lock:
            turns = list(self._turns.values())
        for turn in turns:
            turn.stop()


@dataclass(kw_only=True)
class WebContext:
    engine: WebEngine
    workspaces: Workspaces
    credentials: Credentials
    signer: SessionSigner
    limits: TurnLimits
    loopback: bool
    turns: RunningTurns = field(default_factory=RunningTurns)

    def redact(self, text: str) -> str:
        """Text with the API key and the web credential removed."""
        text = self.engine.redact(text)
        for secret in self.credentials.hidden:
            text = text.replace(secret, "[redacted]")
        return text
