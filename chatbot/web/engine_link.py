"""The one place the web chat reaches the engine: plan once, open the server once,
build a session per conversation.

Every conversation in the browser is a :class:`~chatbot.conversation.session.ChatSession`
built here, on the one server the process opened, with the same settings the
terminal would use for the same flags and environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.conversation.retry import RetryPolicy, Waiter
from chatbot.conversation.session import ChatSession
from chatbot.conversation.tool_turns import ToolHost
from chatbot.secrets import Redactor, url_secrets
from chatbot.settings.config import Config, default_dotenv_files, load_environment, resolve_config
from chatbot.settings.paths import AppPaths
from chatbot.settings.personas import Persona, PersonaBook, load_personas

if TYPE_CHECKING:
    from chatbot.api.client import ChatClient
    from chatbot.settings.user_config import UserConfig
    from chatbot.store.database import Store
    from chatbot.store.records import StoredConversation
    from chatbot.store.store_journal import StoreJournal

__all__ = ["ToolChoice", "WebEngine", "open_engine"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolChoice:
    """Whether tools are offered, and how many rounds a turn may take."""

    enabled: bool
    max_rounds: int | None


@dataclass(kw_only=True)
class WebEngine:
    """The planned run and its opened server, shared by every conversation."""

    config: Config
    book: PersonaBook
    persona: Persona
    environ: Mapping[str, str]
    user_config: UserConfig
    paths: AppPaths
    redact: Redactor
    client: ChatClient
    tool_plan: ToolChoice
    _models: list[str] | None = field(default=None, repr=False)

    @property
    def server_url(self) -> str:
        return self.config.endpoint

    @property
    def api_key(self) -> str:
        return self.config.api_key.reveal()

    @property
    def store_path(self) -> Path:
        return self.config.store_path or self.paths.store

    def models(self) -> list[str]:
        """What the server offers (asked once)."""
        if self._models is None:
            self._models = self.client.list_models()
        return list(self._models)

    def new_session(
        self,
        *,
        store: Store,
        tools: ToolHost | None,
        waiter: Waiter,
        notify: Callable[[str], None],
        resumed: StoredConversation | None = None,
    ) -> tuple[ChatSession, StoreJournal]:
        """A session writing to ``store``, continuing ``resumed`` when given."""
        from chatbot.store.store_journal import StoreJournal, StoreReplyCache, resume

        journal = StoreJournal(store)
        config = self.config
        session = ChatSession(
            config=config,
            persona=self.persona,
            backend=self.client,
            journal=journal,
            cache=StoreReplyCache(store),
            retry_policy=RetryPolicy(attempts=config.retries, max_wait=config.retry_max_wait),
            waiter=waiter,
            notify=notify,
            tools=tools,
        )
        if resumed is not None:
            resume(session, resumed, book=self.book, journal=journal)
        return session, journal

    def close(self) -> None:
        self.client.close()


def open_engine(
    flags: Mapping[str, object],
    *,
    persona_files: tuple[Path, ...] = (),
    environ: Mapping[str, str],
    paths: AppPaths,
) -> WebEngine:
    """Plan the run from ``flags`` and the environment, and open its server."""
    from chatbot.api.client import ChatClient
    from chatbot.settings.user_config import load_user_config

    env, warnings = load_environment(
        environ=environ, dotenv_files=default_dotenv_files(paths.config_dir)
    )
    config = resolve_config(flags=flags, env=env, warnings=warnings)
    user_config = load_user_config(paths.user_config)
    from dataclasses import replace

    config = replace(config, prices=user_config.prices, context_windows=user_config.context_windows)
    book = load_personas(user_file=paths.user_personas, extra_files=list(persona_files))
    persona = book.get(config.persona_name or "default")
    redact = Redactor([env.get("OPENAI_API_KEY", ""), *url_secrets(config.endpoint)])
    client = ChatClient(
        api_key=config.api_key.reveal(),
        base_url=config.endpoint,
        timeout=config.timeout,
        max_retries=0,
        include_usage=config.include_usage,
        redact=redact,
    )
    from chatbot.engine.toolbox_setup import max_rounds_from, tools_enabled

    return WebEngine(
        tool_plan=ToolChoice(
            enabled=tools_enabled(env, flag_off=False), max_rounds=max_rounds_from(None, env)
        ),
        config=config,
        book=book,
        persona=persona,
        environ=env,
        user_config=user_config,
        paths=paths,
        redact=redact,
        client=client,
    )
