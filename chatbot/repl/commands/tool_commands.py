"""``/tools`` (what the model may use, and on or off) and ``/tool N`` (a call's full result)."""

from __future__ import annotations

from chatbot.cells import cut
from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.errors import ChatbotError
from chatbot.i18n import N_, _, gettext
from chatbot.render.sanitize import sanitize
from chatbot.repl.commands.registry import CommandContext, CommandRegistry
from chatbot.settings.personas import Persona
from chatbot.tools.spec import SHELL_SPEC
from chatbot.tools.toolbox import Toolbox, selects

__all__ = ["add_tool_commands", "tool_status_lines"]

_STATUS_WORDS = {
    ReplyStatus.DECLINED: N_("not run"),
    ReplyStatus.INTERRUPTED: N_("cancelled"),
    ReplyStatus.SKIPPED: N_("not run (round limit)"),
}
#: An MCP server's states (chatbot.tools.mcp_hub), shown translated by /tools.
_SERVER_STATES = (N_("starting"), N_("ready"), N_("stopped"), N_("failed"))


def add_tool_commands(registry: CommandRegistry, *, toolbox: Toolbox) -> None:
    """Register ``/tools`` and ``/tool`` on ``registry``."""

    @registry.add(
        "tools",
        usage="/tools [on|off]",
        help=_("list tools and MCP servers with their state, or switch tools on or off"),
        arguments=lambda: ["on", "off"],
    )
    def _tools(ctx: CommandContext, argument: str) -> None:
        word = argument.lower()
        model = ctx.session.params.model
        if word == "on":
            toolbox.enabled = True
            retry = toolbox.memory.forget(toolbox.server_url, model)
            if retry:
                ctx.notices.info(
                    _("tools on: the model may ask to use them (and offered to this server again)")
                )
            else:
                ctx.notices.info(_("tools on: the model may ask to use them"))
        elif word == "off":
            toolbox.enabled = False
            ctx.notices.info(_("tools off: the model is offered none until /tools on"))
        elif word:
            raise ChatbotError(_("/tools takes on or off, or nothing to list the tools"))
        else:
            if toolbox.hub is not None:
                toolbox.hub.refresh()
            toolbox.show_notices()
            for line in tool_status_lines(toolbox, persona=ctx.session.persona, model=model):
                ctx.notices.plain(line)

    @registry.add("tool", usage="/tool N", help=_("show the full result of tool call N"))
    def _tool(ctx: CommandContext, argument: str) -> None:
        results = [m for m in ctx.session.conversation.messages if m.role is Role.TOOL]
        if not results:
            ctx.notices.hint(_("no tool calls in this conversation yet"))
            return
        if not argument.isdigit() or not 1 <= int(argument) <= len(results):
            raise ChatbotError(
                _("/tool takes a call number from 1 to {count}").format(count=len(results))
            )
        result = results[int(argument) - 1]
        state = gettext(_STATUS_WORDS.get(result.status, N_("result")))
        ctx.notices.info(
            _("#{number} {tool}: {state}").format(
                number=argument, tool=result.tool_name or _("tool"), state=state
            )
        )
        from rich.text import Text

        ctx.console.print(Text(sanitize(result.content)), soft_wrap=True)


def tool_status_lines(toolbox: Toolbox, *, persona: Persona, model: str) -> list[str]:
    """What ``/tools`` prints: on or off, the shell, each MCP server and its tools."""
    if not toolbox.enabled:
        lines = [_("tools: off for this session (/tools on to offer them again)")]
    elif toolbox.memory.unsupported(toolbox.server_url, model):
        lines = [
            _(
                "tools: this server said {model} takes no tools, so none are offered "
                "(/tools on tries again)"
            ).format(model=model)
        ]
    else:
        lines = [_("tools: on (/tools off stops offering them)")]
    if persona.tools is None:
        chosen = _("every MCP server")
    else:
        chosen = ", ".join(persona.tools) or _("none")
    lines.append(_("persona {name} uses: {tools}").format(name=persona.name, tools=chosen))
    if not selects(persona.tools, SHELL_SPEC):
        shell = _("off")
    elif toolbox.approver.assume_yes:
        shell = _("on, runs without asking (--yes)")
    else:
        shell = _("on, asks before every command")
    lines.append(_("  shell (built-in): {state}").format(state=shell))
    hub = toolbox.hub
    if hub is None:
        lines.append(_("  no MCP servers configured ([mcp_servers.NAME] in config.toml)"))
        return lines
    for state in hub.states():
        config = state.config
        where = config.url or " ".join([config.command or "", *config.args])
        asks = _("trusted") if config.trust else _("asks first")
        status = gettext(state.status) + (f": {state.detail}" if state.detail else "")
        lines.append(
            _("  {name} ({transport}, {asks}): {status}").format(
                name=config.name, transport=config.transport, asks=asks, status=status
            )
        )
        lines.append(f"      {where}")
        for spec in state.tools:
            used = "" if selects(persona.tools, spec) else _(" (not for this persona)")
            always = _(" (always)") if spec.name in toolbox.approver.always else ""
            # One line each, whatever the terminal: the description is cut by cells.
            description = cut(" ".join(spec.description.split()), 60)
            lines.append(f"      {spec.name}{used}{always}  {description}")
    return lines
