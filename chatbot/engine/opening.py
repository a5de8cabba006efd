"""Step two of a run: open what the plan names, the server and the store.

This is where the network and processes start: looking on loopback, probing
Ollama, starting our llama.cpp server, opening the SQLite file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chatbot.api.client import ChatClient
from chatbot.i18n import _
from chatbot.servers.choice import start_server
from chatbot.servers.server import Server

if TYPE_CHECKING:
    from chatbot.api.debuglog import DebugLog
    from chatbot.engine.plan import RunPlan
    from chatbot.store.database import Store

__all__ = ["open_server", "open_store"]


def open_server(plan: RunPlan, *, warn: Callable[[str], None]) -> Server:
    """The run's one server, as the plan says; ``warn`` hears what the user should know."""
    config = plan.config
    debug = _debug_log(plan, warn=warn)

    def client_for(base_url: str) -> ChatClient:
        return ChatClient(
            api_key=config.api_key.reveal(),
            base_url=base_url,
            timeout=config.timeout,
            # Retries are ours, visible and cancellable, not the SDK's silent ones.
            max_retries=0,
            include_usage=config.include_usage,
            redact=plan.redact,
            debug=debug,
        )

    return start_server(
        plan.server,
        config=config,
        persona=plan.persona(embedded=False),
        client_for=client_for,
        redact=plan.redact,
        env=plan.environ,
        paths=plan.paths,
        warn=warn,
    )


def open_store(plan: RunPlan) -> Store | None:
    """The conversation store the plan names; None with ``--no-store``."""
    path = plan.store_path
    if path is None:
        return None
    from chatbot.store.database import Store

    return Store.open(path)


def _debug_log(plan: RunPlan, *, warn: Callable[[str], None]) -> DebugLog | None:
    if not plan.debug:
        return None
    from chatbot.api.debuglog import DebugLog

    log = DebugLog(plan.paths.debug_log, redact=plan.redact)
    warn(_("debug log: {path}").format(path=log.path))
    return log
