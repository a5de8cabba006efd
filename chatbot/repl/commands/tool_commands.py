"""``/tools`` (what the model may use, and on or off) and ``/tool N`` (a call's full result)."""

from __future__ import annotations

from chatbot.cells import cut
from chatbot.conversation.messages import ReplyStatus
from chatbot.conversation.tool_turns import numbered_results
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
            lines = tool_status_lines(
                toolbox, persona=ctx.session.persona, model=model, width=ctx.console.width
            )
            for line in lines:
                ctx.notices.plain(line)

    @registry.add("tool", usage="/tool N", help=_("show the full result of tool call N"))
    def _tool(ctx: CommandContext, argument: str) -> None:
        results = numbered_results(ctx.session.conversation.messages)
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


def tool_status_lines(
    toolbox: Toolbox, *, persona: Persona, model: str, width: int = 80
) -> list[str]:
    """What ``/tools`` prints: on or off, the shell, each MCP server and its tools.

    Each tool's line is fitted to ``width`` (the terminal's), its description cut
    with an ellipsis; a tool the model is not offered says why.
    """
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
        transport = _transport_words(state.transport) or config.transport
        lines.append(
            _("  {name} ({transport}, {asks}): {status}").format(
                name=config.name, transport=transport, asks=asks, status=status
            )
        )
        lines.append(_fitted(f"      {where}", width))
        for spec in state.tools:
            if spec.unavailable:
                why = gettext(spec.unavailable)
                lines.append(_fitted(f"      {spec.name} ({why})", width))
                continue
            used = "" if selects(persona.tools, spec) else _(" (not for this persona)")
            always = _(" (always)") if spec.name in toolbox.approver.always else ""
            head = f"      {spec.name}{used}{always}"
            description = " ".join(spec.description.split())
            lines.append(_fitted(f"{head}  {description}" if description else head, width))
    return lines


def _transport_words(transport: str) -> str:
    """How ``/tools`` names the transport in use."""
    if transport.startswith("sse"):
        return _("HTTP+SSE, found by itself") if "found" in transport else "HTTP+SSE"
    return {"streamable-http": "http", "stdio": "stdio"}.get(transport, "")


def _fitted(line: str, width: int) -> str:
    """``line`` cut to ``width`` cells with an ellipsis (the terminal would wrap it)."""
    return line if width < 20 else cut(line, width)
