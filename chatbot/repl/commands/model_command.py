"""``/model``: what the server offers, and switching to another model, on any kind of server.

What switching means is the server's business (:meth:`chatbot.servers.Server.switch_model`):
nothing on a remote one, the model's real context on Ollama, a restart on ours.
"""

from __future__ import annotations

from chatbot.i18n import _
from chatbot.repl.commands.registry import CommandContext, CommandRegistry
from chatbot.servers.server import Server

__all__ = ["add_model_command"]


def add_model_command(registry: CommandRegistry, *, server: Server) -> None:
    @registry.add(
        "model",
        usage=_("/model [NAME]"),
        help=_("switch model, or list what the server offers"),
        arguments=server.model_names,
    )
    def _model(ctx: CommandContext, argument: str) -> None:
        session = ctx.session
        if not argument:
            menu = server.model_menu(session.params.model)
            for line in menu.lines:
                ctx.notices.plain(line)
            if menu.hint:
                ctx.notices.hint(menu.hint)
            return
        switch = server.switch_model(argument, notify=ctx.notices.hint)
        session.set_model(switch.model)
        ctx.notices.info(switch.line)
