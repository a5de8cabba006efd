"""The one place the web chat reaches the engine: plan once, open the server once,
build a session per conversation.

These are the terminal's own three steps (:mod:`chatbot.engine`): the same flags and
environment give the same configuration, persona book, server and toolbox. What the
web adds is only that a process serves many conversations: one plan, one
:class:`~chatbot.servers.server.Server` and one set of MCP servers for all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.conversation.retry import Waiter
from chatbot.engine.building import Storage, build_session
from chatbot.engine.opening import open_server
from chatbot.engine.plan import RunPlan, RunRequest, plan_run
from chatbot.engine.toolbox_setup import mcp_hub_for, toolbox_for
from chatbot.render import ReplyRenderer
from chatbot.servers.server import Server
from chatbot.settings.paths import AppPaths
from chatbot.settings.personas import PersonaBook
from chatbot.tools.approval import Asker
from chatbot.tools.display import ToolDisplay

if TYPE_CHECKING:
    from chatbot.conversation.session import ChatSession
    from chatbot.store.database import Store
    from chatbot.store.records import StoredConversation
    from chatbot.store.store_journal import StoreJournal
    from chatbot.tools.mcp_hub import McpHub
    from chatbot.tools.toolbox import Toolbox

__all__ = ["OpenedChat", "WebEngine", "open_engine"]


@dataclass(frozen=True, slots=True)
class OpenedChat:
    """One conversation's engine side: its session, journal and toolbox."""

    session: ChatSession
    journal: StoreJournal
    toolbox: Toolbox


@dataclass(kw_only=True)
class WebEngine:
    """The planned run and its opened server, shared by every conversation."""

    plan: RunPlan
    server: Server
    hub: McpHub | None = None
    _models: list[str] | None = field(default=None, repr=False)
    # A switch may restart our llama.cpp server: one at a time for the whole process.
    _switching: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def paths(self) -> AppPaths:
        return self.plan.paths

    @property
    def book(self) -> PersonaBook:
        return self.plan.book_for(self.server)

    @property
    def store_path(self) -> Path:
        # serve has no --no-store: its conversations are always the store's.
        return self.plan.store_path or self.paths.store

    def redact(self, text: str) -> str:
        return self.plan.redact(text)

    def models(self) -> list[str]:
        """The model picker's choices: what the server names, else what it lists (asked once)."""
        if self._models is None:
            self._models = self.server.model_names() or self.server.models()
        return list(self._models)

    def switch_model(self, name: str, *, notify: Callable[[str], None]) -> str:
        """The model id to ask for from now on; raises ChatbotError when it cannot be."""
        with self._switching:
            return self.server.switch_model(name, notify=notify).model

    def open_chat(
        self,
        *,
        store: Store,
        display: ToolDisplay,
        ask: Asker,
        renderer_factory: Callable[[], ReplyRenderer],
        waiter: Waiter,
        notify: Callable[[str], None],
        allow_shell: bool,
        resumed: StoredConversation | None = None,
    ) -> OpenedChat:
        """A conversation on ``store``, continuing ``resumed`` when given.

        Its tool calls are shown on ``display`` and approved through ``ask`` (the
        page's Run / Deny / Always); ``allow_shell=False`` never offers the shell tool.
        """
        toolbox = toolbox_for(
            self.plan,
            self.server,
            display=display,
            ask=ask,
            renderer_factory=renderer_factory,
            hub=self.hub,
            allow_shell=allow_shell,
        )
        storage = Storage.on(store)
        session = build_session(
            self.plan,
            self.server,
            storage=storage,
            notify=notify,
            waiter=waiter,
            tools=toolbox,
            resumed=resumed,
        )
        return OpenedChat(session=session, journal=storage.journal, toolbox=toolbox)

    def close(self) -> None:
        if self.hub is not None:
            self.hub.close()
        self.server.close()


def open_engine(
    request: RunRequest,
    *,
    environ: Mapping[str, str],
    paths: AppPaths,
    warn: Callable[[str], None],
) -> WebEngine:
    """Plan the run from ``request`` and the environment, open its server and MCP hub.

    ``warn`` hears what the user should know before serving (a readable ``.env``, the
    embedded model starting); the hub's servers start in the background.
    """
    # The web never runs a tool call unasked, whatever the environment says.
    plan = plan_run(_asking(request), environ=environ, paths=paths)
    for warning in plan.warnings:
        warn(warning)
    server = open_server(plan, warn=warn)
    # The SDK loads (and our llama.cpp boots) while the first page is opened, not in
    # the first turn's time.
    server.warm_up()
    hub = mcp_hub_for(plan)
    if hub is not None:
        hub.start_in_background()
    return WebEngine(plan=plan, server=server, hub=hub)


def _asking(request: RunRequest) -> RunRequest:
    from dataclasses import replace

    return replace(request, assume_yes=False)
