"""``/think`` and ``/thinking``: how a reasoning model's thinking is shown, and reading it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.conversation.thought_tokens import thinking_tokens
from chatbot.errors import ChatbotError
from chatbot.i18n import N_, _, gettext, or_list, quote
from chatbot.render.sanitize import sanitize
from chatbot.settings.limits import THINK_MODES, ThinkMode

if TYPE_CHECKING:
    from chatbot.repl.commands.registry import CommandContext, CommandRegistry

__all__ = ["add_thinking_commands"]

_MODES = "|".join(THINK_MODES)
_MEANING = {
    ThinkMode.SHOW: N_("shown in full, dim, before each answer"),
    ThinkMode.FOLD: N_("shown live, then folded to one line when the answer starts"),
    ThinkMode.HIDE: N_("hidden (only a timer while the model thinks)"),
}


def add_thinking_commands(registry: CommandRegistry) -> None:
    """Register ``/think`` and ``/thinking``."""

    @registry.add(
        "think",
        usage=f"/think [{_MODES}]",
        help=_("how a reasoning model's thinking is shown (default fold)"),
        arguments=lambda: list(THINK_MODES),
    )
    def _think(ctx: CommandContext, argument: str) -> None:
        session = ctx.session
        if argument:
            try:
                mode = ThinkMode.parse(argument)
            except ValueError:
                raise ChatbotError(
                    _("/think takes {choices}, got {value}").format(
                        choices=or_list(THINK_MODES), value=quote(argument)
                    )
                ) from None
            session.config = session.config.with_think(mode)
        mode = session.config.think_for(session.persona)
        ctx.notices.info(
            _("thinking: {mode} ({meaning})").format(mode=mode, meaning=gettext(_MEANING[mode]))
        )

    @registry.add("thinking", usage="/thinking", help=_("print the last reply's full thinking"))
    def _thinking(ctx: CommandContext, _argument: str) -> None:
        from rich.text import Text

        reply = ctx.session.conversation.last_reply()
        if reply is None or not reply.thinking.strip():
            ctx.notices.hint(_("the last reply has no thinking") if reply else _("no reply yet"))
            return
        tokens, exact = thinking_tokens(reply, ctx.session.counter)
        ctx.notices.hint(
            _("thinking before the last reply ({mark}{tokens:,} tokens):").format(
                mark="" if exact else "~", tokens=tokens
            )
        )
        ctx.console.print(Text(sanitize(reply.thinking), style="dim"))
