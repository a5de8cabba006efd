"""Step three of a run: a session on the opened server, for any front end.

The terminal builds one; the web chat builds one per conversation, on the same
server and through this same function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from chatbot.api.reasoning import OpenedThinking
from chatbot.conversation.retry import RetryPolicy, Waiter, sleeping_waiter
from chatbot.conversation.session import ChatSession
from chatbot.conversation.tool_turns import ToolHost
from chatbot.engine.knowledge_setup import retriever_for
from chatbot.errors import ConfigError
from chatbot.i18n import _
from chatbot.servers.server import Server

if TYPE_CHECKING:
    from chatbot.engine.plan import RunPlan
    from chatbot.settings.personas import Persona
    from chatbot.store.database import Store
    from chatbot.store.records import StoredConversation
    from chatbot.store.store_journal import StoreJournal, StoreReplyCache

__all__ = ["Storage", "build_session", "resume_target"]


@dataclass(frozen=True, slots=True)
class Storage:
    """Where one session's conversation is kept: the store, its journal, the reply cache."""

    store: Store
    journal: StoreJournal
    cache: StoreReplyCache

    @classmethod
    def on(cls, store: Store) -> Storage:
        """A fresh journal on ``store``: one per conversation."""
        from chatbot.store.store_journal import StoreJournal, StoreReplyCache

        return cls(store=store, journal=StoreJournal(store), cache=StoreReplyCache(store))


def resume_target(plan: RunPlan, store: Store) -> StoredConversation | None:
    """The conversation ``--continue`` or ``--session ID`` names, loaded; None for a new one."""
    if plan.resume is None:
        return None
    if isinstance(plan.resume, int):
        return store.load_conversation(plan.resume)
    latest = store.latest_conversation_id()  # --continue
    if latest is None:
        raise ConfigError(_("there is no conversation to continue yet"))
    return store.load_conversation(latest)


def build_session(
    plan: RunPlan,
    server: Server,
    *,
    storage: Storage | None = None,
    notify: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
    waiter: Waiter = sleeping_waiter,
    tools: ToolHost | None = None,
    persona: Persona | None = None,
    resumed: StoredConversation | None = None,
) -> ChatSession:
    """A session with the plan's settings on ``server``, continuing ``resumed`` if given.

    ``notify`` hears slow background steps, ``warn`` the server's warnings (Ollama
    about to truncate; default: ``notify``); ``persona`` overrides the plan's.
    """
    config = plan.config
    say = warn or notify or (lambda _text: None)
    session = ChatSession(
        config=config,
        persona=persona or plan.persona_for(server),
        backend=server.backend(notify=say),
        journal=storage.journal if storage is not None else None,
        cache=storage.cache if storage is not None else None,
        retry_policy=RetryPolicy(attempts=config.retries, max_wait=config.retry_max_wait),
        waiter=waiter,
        notify=notify,
        tools=tools,
        served=server,
        # Each conversation chooses its own bases (/knowledge), from the run's plan.
        retriever=retriever_for(
            knowledge=plan.knowledge, server=server, config=config, data_dir=plan.paths.data_dir
        ),
        # Which models open <think> in their prompt, remembered per server between runs.
        opened_thinking=OpenedThinking(
            plan.paths.data_dir / "think-tags.json", server=server.identity
        ),
    )
    if resumed is not None and storage is not None:
        from chatbot.store.store_journal import resume

        resume(session, resumed, book=plan.book_for(server), journal=storage.journal)
        if plan.system is not None:
            session.switch_persona(replace(session.persona, system=plan.system))
    return session
