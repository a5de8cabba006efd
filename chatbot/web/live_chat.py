"""One conversation open in a browser: its session, its toolbox, the files waiting to go.

A conversation runs one turn at a time. Its toolbox, renderer and retry waits all
reach the page through the turn running now (:class:`~chatbot.web.turn.TurnDisplay`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chatbot.conversation.attachments import Attachment
from chatbot.conversation.compose import Attached
from chatbot.conversation.retry import RetryWait
from chatbot.settings.catalogue import cost_of, format_dollars
from chatbot.web.reply_stream import PageReplyRenderer
from chatbot.web.turn import TurnDisplay, WebTurn

if TYPE_CHECKING:
    from chatbot.conversation.session import ChatSession
    from chatbot.store.store_journal import StoreJournal
    from chatbot.tools.toolbox import Toolbox

__all__ = ["LiveChat"]


class LiveChat:
    """A conversation's live state in the web server."""

    def __init__(self, *, display: TurnDisplay, draft: str | None = None) -> None:
        #: How the page names this chat before the store has an id for it.
        self.draft = draft or "d-" + secrets.token_urlsafe(9)
        self.display = display
        self.session: ChatSession
        self.journal: StoreJournal
        self.toolbox: Toolbox
        #: Files attached for the next message, by the id the page knows them by.
        self.pending: dict[str, Attached] = {}
        self.last_used = time.monotonic()
        self._lock = threading.Lock()

    def bind(self, *, session: ChatSession, journal: StoreJournal, toolbox: Toolbox) -> None:
        self.session = session
        self.journal = journal
        self.toolbox = toolbox

    @property
    def conversation_id(self) -> int | None:
        return self.journal.conversation_id

    @property
    def key(self) -> str:
        """The stored id once there is one, else the draft name."""
        found = self.conversation_id
        return str(found) if found is not None else self.draft

    # -- turns -------------------------------------------------------------------

    @property
    def turn(self) -> WebTurn | None:
        return self.display.turn

    def begin(self, turn: WebTurn) -> bool:
        """Make ``turn`` the running one; False while another runs."""
        with self._lock:
            if self.display.turn is not None:
                return False
            self.display.turn = turn
            self.last_used = time.monotonic()
            return True

    def end(self, turn: WebTurn) -> None:
        with self._lock:
            if self.display.turn is turn:
                self.display.turn = None
            self.last_used = time.monotonic()

    def new_renderer(self) -> PageReplyRenderer:
        """A renderer for the next reply (also each tool round's), onto the running turn."""
        turn = self.display.turn
        session = self.session
        return PageReplyRenderer(
            emit=turn.emit if turn is not None else (lambda _event: None),
            think=session.config.think_for(session.persona),
        )

    def wait(self, wait: RetryWait) -> None:
        """The session's waiter: shown in the page, and ended by Stop."""
        turn = self.display.turn
        if turn is not None:
            turn.wait_to_retry(wait)
        else:
            time.sleep(wait.seconds)

    def notify(self, text: str) -> None:
        self.display.hint(text)

    def settle(self, ids: Sequence[str], files: Sequence[Attachment]) -> None:
        """Stop holding the files ``ids`` once they went with the newest question."""
        conversation = self.session.conversation
        index = conversation.last_user_index()
        sent = conversation.messages[index].attachments if index is not None else ()
        if len(sent) == len(files) and all(a is b for a, b in zip(sent, files, strict=True)):
            for key in ids:
                self.pending.pop(key, None)

    # -- what the page shows ------------------------------------------------------

    def status(self) -> dict[str, object]:
        """Persona, model, context fill, tokens and cost: the page's status line."""
        session = self.session
        fill = session.context_fill()
        usage = session.usage
        tokens = usage.prompt_tokens + usage.completion_tokens
        cost = None
        if tokens:
            priced = cost_of(usage.by_model, prices=session.config.prices)
            if not priced.unpriced:
                cost = format_dollars(priced.dollars)
        return {
            "chat": self.key,
            "conversation": self.conversation_id,
            "persona": session.persona.name,
            "model": session.params.model,
            "think": session.config.think_for(session.persona),
            "context": {
                "tokens": fill.tokens,
                "window": fill.window,
                "exact": fill.exact,
                "fraction": round(fill.fraction, 4),
            },
            "dropped": session.dropped_turns,
            "tokens": tokens,
            "estimated": usage.estimated_requests > 0,
            "cost": cost,
            "busy": self.display.turn is not None,
            "attachments": [
                {"id": key, "line": item.line(), "name": item.attachment.name}
                for key, item in self.pending.items()
            ],
        }
