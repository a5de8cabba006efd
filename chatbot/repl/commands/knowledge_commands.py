"""``/knowledge`` and ``/sources``: the knowledge bases a chat answers from, and what it used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.conversation.references import source_lines
from chatbot.errors import ChatbotError
from chatbot.i18n import _
from chatbot.render.sanitize import sanitize

if TYPE_CHECKING:
    from chatbot.conversation.session import ChatSession
    from chatbot.repl.commands.registry import CommandContext, CommandRegistry

__all__ = ["add_knowledge_commands", "knowledge_status"]


def knowledge_status(session: ChatSession) -> str | None:
    """``knowledge: it (persona), passages up to 1,750 tokens a question (25% of 7,000)``."""
    retriever = session.retriever
    if retriever is None:
        return None
    bases = retriever.bases_for(session.persona)
    if not bases:
        return _("knowledge: off (/knowledge NAME to answer from a base)")
    share = retriever.share_for(session.persona)
    budget = session.budget.prompt_tokens
    line = (
        _(
            "knowledge: {bases}, passages up to {tokens:,} tokens a question "
            "({share:.0%} of the {budget:,}-token prompt budget)"
        )
        if retriever.chosen is not None
        else _(
            "knowledge: {bases} (the persona's), passages up to {tokens:,} tokens a question "
            "({share:.0%} of the {budget:,}-token prompt budget)"
        )
    )
    return line.format(
        bases=", ".join(bases), tokens=int(budget * share), share=share, budget=budget
    )


def add_knowledge_commands(registry: CommandRegistry) -> None:
    """Register ``/knowledge`` and ``/sources``."""

    @registry.add(
        "knowledge",
        usage="/knowledge [NAME|off]",
        help=_("answer from a knowledge base (several: NAME,NAME), turn it off, or show them"),
    )
    def _knowledge(ctx: CommandContext, argument: str) -> None:
        session = ctx.session
        retriever = session.retriever
        if retriever is None:
            raise ChatbotError(
                _(
                    "no knowledge bases yet: make one with chatbot knowledge add NAME PATH, "
                    "then start the chat again"
                )
            )
        if argument:
            wanted = [n for n in argument.replace(",", " ").split() if n]
            if len(wanted) == 1 and wanted[0].lower() == "off":
                retriever.choose(())
            else:
                retriever.choose(tuple(wanted))
        status = knowledge_status(session)
        if status:
            ctx.notices.info(status)
        if not argument:
            available = retriever.available()
            listed = (
                ", ".join(available) if available else _("none (chatbot knowledge add NAME PATH)")
            )
            ctx.notices.hint(
                _("bases: {listed}; /knowledge NAME, /knowledge off").format(listed=listed)
            )

    @registry.add(
        "sources",
        usage="/sources",
        help=_("the passages the last answer was given, in full, with where each came from"),
    )
    def _sources(ctx: CommandContext, _argument: str) -> None:
        from rich.text import Text

        reply = ctx.session.conversation.last_reply()
        if reply is None or not reply.sources:
            ctx.notices.hint(_("the last answer had no sources") if reply else _("no answer yet"))
            return
        for line, source in zip(source_lines(reply.sources), reply.sources, strict=True):
            ctx.notices.info(line.replace(source.where(), source.where(full=True)))
            ctx.console.print(Text(sanitize(source.text.strip()), style="dim"))
