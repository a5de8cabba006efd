"""The toolbox of a run: the shell tool and MCP servers, as the plan and ``config.toml`` say.

A front end passes how tool lines are shown and how a call is approved; it
decides when the MCP servers start (the terminal: once its prompt is drawn).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.render import ReplyRenderer
from chatbot.settings.tool_config import McpServerConfig, ToolSettings
from chatbot.tools.approval import Approver, Asker
from chatbot.tools.display import ToolConsole
from chatbot.tools.memory import ToolSupportMemory
from chatbot.tools.shell import shell_environment
from chatbot.tools.toolbox import Toolbox

if TYPE_CHECKING:
    from rich.console import Console

    from chatbot.engine.plan import RunPlan
    from chatbot.servers.server import Server

__all__ = ["build_toolbox", "toolbox_for"]


def build_toolbox(
    *,
    settings: ToolSettings,
    servers: tuple[McpServerConfig, ...],
    env: Mapping[str, str],
    console: Console,
    ask: Asker | None,
    assume_yes: bool,
    enabled: bool,
    max_rounds: int | None,
    renderer_factory: Callable[[], ReplyRenderer],
    server_url: str,
    api_key: str,
    data_dir: Path,
) -> Toolbox:
    """The toolbox; its MCP servers are not started yet (``hub.start_in_background()``)."""
    hub = None
    if servers and enabled:
        from chatbot.tools.mcp_hub import McpHub

        hub = McpHub(servers, log_dir=data_dir)
        # SIGTERM must unwind through close(), which stops the servers.
        from chatbot.local.server_process import install_sigterm_handler

        install_sigterm_handler()
    if max_rounds is not None:
        settings = replace(settings, max_rounds=max_rounds)
    return Toolbox(
        settings=settings,
        approver=Approver(ask=ask, assume_yes=assume_yes),
        console=ToolConsole(console=console),
        renderer_factory=renderer_factory,
        shell_env=shell_environment(env, secrets=[api_key], base_urls=[server_url]),
        server_url=server_url,
        hub=hub,
        memory=ToolSupportMemory(data_dir / "no-tools.json"),
        enabled=enabled,
    )


def toolbox_for(
    plan: RunPlan,
    server: Server,
    *,
    console: Console,
    renderer_factory: Callable[[], ReplyRenderer],
    ask: Asker | None = None,
) -> Toolbox:
    """The run's toolbox, as the flags, the environment and ``config.toml`` configure it."""
    user_config = plan.user_config
    return build_toolbox(
        settings=user_config.tools,
        servers=user_config.mcp_servers,
        env=plan.environ,
        console=console,
        ask=ask,
        assume_yes=plan.tools.assume_yes,
        enabled=plan.tools.enabled,
        max_rounds=plan.tools.max_rounds,
        renderer_factory=renderer_factory,
        server_url=server.identity,
        api_key=plan.config.api_key.reveal(),
        data_dir=plan.paths.data_dir,
    )
