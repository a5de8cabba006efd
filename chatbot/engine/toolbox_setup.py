"""The toolbox of a run: the shell tool and MCP servers, as the plan and ``config.toml`` say.

A front end passes how tool lines are shown (a terminal console, or a web page's
events through any :class:`~chatbot.tools.display.ToolDisplay`) and how a call is
approved; it decides when the MCP servers start (the terminal: once its prompt is
drawn). Several toolboxes may share one hub: the web chat builds one toolbox per
conversation on the process's one set of MCP servers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.render import ReplyRenderer
from chatbot.settings.tool_config import McpServerConfig, ToolSettings
from chatbot.tools.approval import Approver, Asker
from chatbot.tools.display import ToolConsole, ToolDisplay
from chatbot.tools.memory import ToolSupportMemory
from chatbot.tools.shell import shell_environment
from chatbot.tools.toolbox import Toolbox

if TYPE_CHECKING:
    from rich.console import Console

    from chatbot.engine.plan import RunPlan
    from chatbot.servers.server import Server
    from chatbot.tools.mcp_hub import McpHub

__all__ = ["build_toolbox", "mcp_hub_for", "toolbox_for"]


def mcp_hub_for(plan: RunPlan) -> McpHub | None:
    """The run's MCP servers' hub, not started yet (``start_in_background()``); None without any."""
    return _hub(
        plan.user_config.mcp_servers, enabled=plan.tools.enabled, data_dir=plan.paths.data_dir
    )


def _hub(servers: tuple[McpServerConfig, ...], *, enabled: bool, data_dir: Path) -> McpHub | None:
    if not servers or not enabled:
        return None
    from chatbot.tools.mcp_hub import McpHub

    hub = McpHub(servers, log_dir=data_dir)
    # SIGTERM must unwind through close(), which stops the servers.
    from chatbot.local.server_process import install_sigterm_handler

    install_sigterm_handler()
    return hub


def build_toolbox(
    *,
    settings: ToolSettings,
    servers: tuple[McpServerConfig, ...] = (),
    hub: McpHub | None = None,
    env: Mapping[str, str],
    display: ToolDisplay,
    ask: Asker | None,
    assume_yes: bool,
    enabled: bool,
    max_rounds: int | None,
    renderer_factory: Callable[[], ReplyRenderer],
    server_url: str,
    api_key: str,
    data_dir: Path,
    allow_shell: bool = True,
) -> Toolbox:
    """The toolbox on ``hub``, else on a hub of its own for ``servers`` (not started yet)."""
    if hub is None:
        hub = _hub(servers, enabled=enabled, data_dir=data_dir)
    if max_rounds is not None:
        settings = replace(settings, max_rounds=max_rounds)
    return Toolbox(
        settings=settings,
        approver=Approver(ask=ask, assume_yes=assume_yes),
        console=display,
        renderer_factory=renderer_factory,
        shell_env=shell_environment(env, secrets=[api_key], base_urls=[server_url]),
        server_url=server_url,
        hub=hub,
        memory=ToolSupportMemory(data_dir / "no-tools.json"),
        enabled=enabled,
        allow_shell=allow_shell,
    )


def toolbox_for(
    plan: RunPlan,
    server: Server,
    *,
    renderer_factory: Callable[[], ReplyRenderer],
    console: Console | None = None,
    display: ToolDisplay | None = None,
    ask: Asker | None = None,
    hub: McpHub | None = None,
    allow_shell: bool = True,
) -> Toolbox:
    """The run's toolbox, as the flags, the environment and ``config.toml`` configure it.

    Tool lines go to ``display``, or else to ``console``; ``hub`` shares MCP servers
    already opened (:func:`mcp_hub_for`), else the toolbox gets its own.
    ``allow_shell=False`` keeps the shell tool away whatever a persona says.
    """
    if display is None:
        if console is None:
            raise TypeError("toolbox_for needs a console or a display")
        display = ToolConsole(console=console)
    user_config = plan.user_config
    return build_toolbox(
        settings=user_config.tools,
        servers=user_config.mcp_servers,
        hub=hub,
        env=plan.environ,
        display=display,
        ask=ask,
        assume_yes=plan.tools.assume_yes,
        enabled=plan.tools.enabled,
        max_rounds=plan.tools.max_rounds,
        renderer_factory=renderer_factory,
        server_url=server.identity,
        api_key=plan.config.api_key.reveal(),
        data_dir=plan.paths.data_dir,
        allow_shell=allow_shell,
    )
