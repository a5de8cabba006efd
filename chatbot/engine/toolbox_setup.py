"""Building the toolbox for one run, and fitting it to the chat or to one-shot mode."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.errors import ConfigError
from chatbot.render import ReplyRenderer
from chatbot.settings.limits import TOOL_ROUNDS
from chatbot.settings.tool_config import McpServerConfig, ToolSettings
from chatbot.tools.approval import Approver, Asker, terminal_asker
from chatbot.tools.display import ToolConsole, ToolDisplay
from chatbot.tools.memory import ToolSupportMemory
from chatbot.tools.shell import shell_environment
from chatbot.tools.toolbox import Toolbox

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from rich.console import Console

    from chatbot.cli.options import RunOptions
    from chatbot.repl.commands.registry import CommandRegistry
    from chatbot.settings.config import Config
    from chatbot.settings.user_config import UserConfig
    from chatbot.tools.mcp_hub import McpHub

__all__ = [
    "assemble_toolbox",
    "build_toolbox",
    "for_chat",
    "for_one_shot",
    "max_rounds_from",
    "mcp_hub_for",
    "toolbox_for_run",
    "tools_enabled",
]


def tools_enabled(env: Mapping[str, str], *, flag_off: bool) -> bool:
    """False for ``--no-tools`` or ``CHATBOT_TOOLS=0`` (also false, no, off)."""
    raw = env.get("CHATBOT_TOOLS", "").strip().lower()
    return not flag_off and raw not in ("0", "false", "no", "off")


def max_rounds_from(flag: int | None, env: Mapping[str, str]) -> int | None:
    """``--max-tool-rounds``, else ``CHATBOT_MAX_TOOL_ROUNDS``, else None (config.toml's)."""
    if flag is not None:
        return flag
    raw = env.get("CHATBOT_MAX_TOOL_ROUNDS", "").strip()
    if not raw:
        return None
    try:
        return int(TOOL_ROUNDS.parse(raw))
    except ValueError as exc:
        raise ConfigError(f"CHATBOT_MAX_TOOL_ROUNDS {exc}") from None


def mcp_hub_for(
    servers: tuple[McpServerConfig, ...], *, enabled: bool, data_dir: Path
) -> McpHub | None:
    """The MCP servers' hub, not started yet (``start_in_background()``); None without any."""
    if not servers or not enabled:
        return None
    from chatbot.tools.mcp_hub import McpHub

    hub = McpHub(servers, log_dir=data_dir)
    # SIGTERM must unwind through close(), which stops the servers.
    from chatbot.local.server_process import install_sigterm_handler

    install_sigterm_handler()
    return hub


def assemble_toolbox(
    *,
    settings: ToolSettings,
    hub: McpHub | None,
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
    """A toolbox on ``hub`` (which several toolboxes may share), shown on ``display``.

    Every front end builds its toolboxes here: the terminal with a console and a
    prompt to ask at, the web with page events and Run / Deny / Always buttons.
    """
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
    """The terminal's toolbox with a hub of its own; its MCP servers are not started yet."""
    return assemble_toolbox(
        settings=settings,
        hub=mcp_hub_for(servers, enabled=enabled, data_dir=data_dir),
        env=env,
        display=ToolConsole(console=console),
        ask=ask,
        assume_yes=assume_yes,
        enabled=enabled,
        max_rounds=max_rounds,
        renderer_factory=renderer_factory,
        server_url=server_url,
        api_key=api_key,
        data_dir=data_dir,
    )


def toolbox_for_run(
    options: RunOptions,
    *,
    config: Config,
    env: Mapping[str, str],
    user_config: UserConfig,
    chat: bool,
    console: Console,
    renderer_factory: Callable[[], ReplyRenderer],
    data_dir: Path,
) -> Toolbox:
    """The toolbox as the flags, the environment and ``config.toml`` configure it."""
    toolbox = build_toolbox(
        settings=user_config.tools,
        servers=user_config.mcp_servers,
        env=env,
        console=console,
        ask=None,
        assume_yes=options.assume_yes,
        enabled=tools_enabled(env, flag_off=options.no_tools),
        max_rounds=max_rounds_from(options.max_tool_rounds, env),
        renderer_factory=renderer_factory,
        # The embedded model's URL is only known once it runs: its memory key is "local".
        server_url=config.base_url or ("local" if config.local else config.endpoint),
        api_key=config.api_key.reveal(),
        data_dir=data_dir,
    )
    if not chat:
        for_one_shot(toolbox)
    return toolbox


def for_one_shot(toolbox: Toolbox) -> None:
    """One-shot: ask at the terminal if there is one (unless --yes); start servers now."""
    if not toolbox.approver.assume_yes:
        toolbox.approver.ask = terminal_asker()
    if toolbox.hub is not None:
        toolbox.hub.start_in_background()


def for_chat(
    toolbox: Toolbox, *, prompt: PromptSession[str], commands: CommandRegistry
) -> Callable[[], None]:
    """A chat: ask through the prompt, add /tools and /tool; returns what starts the servers.

    The question gets its own history-less prompt on the same terminal, so a "y"
    never lands in the input history.
    """
    from chatbot.repl.commands.tool_commands import add_tool_commands

    asking: list[PromptSession[str]] = []

    def ask(question: str) -> str:
        if not asking:
            # Built on first use: a PromptSession costs milliseconds the start-up has not got.
            from prompt_toolkit import PromptSession

            asking.append(PromptSession(input=prompt.input, output=prompt.output))
        return asking[0].prompt(question)

    toolbox.approver.ask = ask
    add_tool_commands(commands, toolbox=toolbox)
    hub = toolbox.hub
    return hub.start_in_background if hub is not None else (lambda: None)
