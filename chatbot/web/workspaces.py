"""Each user's conversations: their own store file, and the chats they have open.

With users (team mode) every user has a store file of their own, so a conversation
id from another user is simply not there: a 404, with no ownership check to forget.
A loopback or shared-token server has one user, on the terminal's own store, so a
chat started in either front end continues in the other.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from chatbot.errors import StoreError
from chatbot.settings.paths import STORE_FILE_NAME
from chatbot.web.live_chat import LiveChat
from chatbot.web.turn import TurnDisplay

if TYPE_CHECKING:
    from pathlib import Path

    from chatbot.store.database import Store
    from chatbot.store.records import StoredConversation
    from chatbot.web.engine_link import WebEngine

__all__ = ["NotFound", "Workspace", "Workspaces"]

#: Open chats kept per user; the least recently used idle one is closed beyond it.
_OPEN_CHATS = 24
#: How the page names a chat with nothing stored yet (:attr:`LiveChat.draft`).
_DRAFT = re.compile(r"d-[A-Za-z0-9_-]{8,32}")


class NotFound(Exception):
    """No such conversation for this user (404)."""


class Workspace:
    """One user's store and open chats."""

    def __init__(self, *, user: str, store: Store, engine: WebEngine, allow_shell: bool) -> None:
        self.user = user
        self.store = store
        self._engine = engine
        self._allow_shell = allow_shell
        self._chats: OrderedDict[str, LiveChat] = OrderedDict()
        self._lock = threading.Lock()

    def new_chat(self) -> LiveChat:
        chat = self._open(None)
        with self._lock:
            self._remember(chat.draft, chat)
        return chat

    def chat(self, key: str) -> LiveChat:
        """The chat the page calls ``key``: open already, or loaded from the store."""
        with self._lock:
            chat = self._chats.get(key)
            if chat is not None:
                self._chats.move_to_end(key)
                return chat
        if _DRAFT.fullmatch(key):
            # A new chat the page named before anything was stored, since closed while
            # idle (or by a restart): it held nothing, so it opens again under its name.
            draft = self._open(None, draft=key)
            with self._lock:
                return self._remember(key, draft)
        if not key.isdigit():
            raise NotFound(key)
        try:
            stored = self.store.load_conversation(int(key))
        except StoreError:
            raise NotFound(key) from None
        chat = self._open(stored)
        with self._lock:
            return self._remember(key, chat)

    def known(self, chat: LiveChat) -> None:
        """Also find ``chat`` under its stored id, once it has one."""
        found = chat.conversation_id
        if found is not None:
            with self._lock:
                self._chats.setdefault(str(found), chat)

    def forget(self, conversation_id: int) -> None:
        """A deleted conversation: close its chat, under every name."""
        with self._lock:
            for key in [k for k, c in self._chats.items() if c.conversation_id == conversation_id]:
                self._chats.pop(key, None)

    def _remember(self, key: str, chat: LiveChat) -> LiveChat:
        existing = self._chats.setdefault(key, chat)
        while len(self._chats) > _OPEN_CHATS:
            idle = next((k for k, c in self._chats.items() if c.turn is None), None)
            if idle is None:
                break
            self._chats.pop(idle)
        return existing

    def _open(self, stored: StoredConversation | None, *, draft: str | None = None) -> LiveChat:
        display = TurnDisplay()
        chat = LiveChat(display=display, draft=draft)
        opened = self._engine.open_chat(
            store=self.store,
            display=display,
            ask=display.ask,
            renderer_factory=chat.new_renderer,
            waiter=chat.wait,
            notify=chat.notify,
            allow_shell=self._allow_shell,
            resumed=stored,
        )
        chat.bind(session=opened.session, journal=opened.journal, toolbox=opened.toolbox)
        return chat


class Workspaces:
    """Every signed-in user's workspace, opened on first use."""

    def __init__(
        self,
        *,
        engine: WebEngine,
        per_user_stores: bool,
        allow_shell: bool,
    ) -> None:
        self._engine = engine
        self._per_user = per_user_stores
        self._allow_shell = allow_shell
        self._open: dict[str, Workspace] = {}
        self._lock = threading.Lock()

    def store_path(self, user: str) -> Path:
        if not self._per_user:
            return self._engine.store_path
        return self._engine.paths.data_dir / "web-users" / user / STORE_FILE_NAME

    def for_user(self, user: str) -> Workspace:
        with self._lock:
            found = self._open.get(user)
            if found is None:
                from chatbot.store.database import Store

                found = Workspace(
                    user=user,
                    store=Store.open(self.store_path(user)),
                    engine=self._engine,
                    allow_shell=self._allow_shell,
                )
                self._open[user] = found
            return found

    def close(self) -> None:
        with self._lock:
            for workspace in self._open.values():
                workspace.store.close()
            self._open.clear()
