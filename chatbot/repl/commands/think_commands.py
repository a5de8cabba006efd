"""``/think`` and ``/thinking``: how a reasoning model's thinking is shown, and reading it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.conversation.thought_tokens import thinking_tokens
from chatbot.errors import ChatbotError
from chatbot.render.sanitize import sanitize
from chatbot.settings.limits import THINK_MODES, ThinkMode

if TYPE_CHECKING:
    from chatbot.repl.commands.registry import CommandContext, CommandRegistry

__all__ = ["add_thinking_commands"]

_MODES = "|".join(THINK_MODES)
_MEANING = {
    ThinkMode.SHOW: "shown in full, dim, before each answer",
    ThinkMode.FOLD: "shown live, then folded to one line when the answer starts",
    ThinkMode.HIDE: "hidden (only a timer while the model thinks)",
}


def add_thinking_commands(registry: CommandRegistry) -> None:
    """Register ``/think`` and ``/thinking``."""

    @registry.add(
        "think",
        usage=f"/think [{_MODES}]",
        help="how a reasoning model's thinking is shown (default fold)",
        arguments=lambda: list(THINK_MODES),
    )
    def _think(ctx: CommandContext, argument: str) -> None:
        session = ctx.session
        if argument:
            try:
                mode = ThinkMode.parse(argument)
            except ValueError:
                raise ChatbotError(
                    f"/think takes {ThinkMode.choices_text()}, got {argument!r}"
                ) from None
            session.config = session.config.with_think(mode)
        mode = session.config.think_for(session.persona)
        ctx.notices.info(f"thinking: {mode} ({_MEANING[mode]})")

    @registry.add("thinking", usage="/thinking", help="print the last reply's full thinking")
    def _thinking(ctx: CommandContext, _: str) -> None:
        from rich.text import Text

        reply = ctx.session.conversation.last_reply()
        if reply is None or not reply.thinking.strip():
            ctx.notices.hint("the last reply has no thinking" if reply else "no reply yet")
            return
        tokens, exact = thinking_tokens(reply, ctx.session.counter)
        ctx.notices.hint(
            f"thinking before the last reply ({'' if exact else '~'}{tokens:,} tokens):"
        )
        ctx.console.print(Text(sanitize(reply.thinking), style="dim"))
