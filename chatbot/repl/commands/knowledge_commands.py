"""``/knowledge`` and ``/sources``: the knowledge bases a chat answers from, and what it used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.conversation.references import source_lines
from chatbot.errors import ChatbotError
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
        return "knowledge: off (/knowledge NAME to answer from a base)"
    whose = "" if retriever.chosen is not None else " (the persona's)"
    share = retriever.share_for(session.persona)
    budget = session.budget.prompt_tokens
    return (
        f"knowledge: {', '.join(bases)}{whose}, passages up to {int(budget * share):,} tokens "
        f"a question ({share:.0%} of the {budget:,}-token prompt budget)"
    )


def add_knowledge_commands(registry: CommandRegistry) -> None:
    """Register ``/knowledge`` and ``/sources``."""

    @registry.add(
        "knowledge",
        usage="/knowledge [NAME|off]",
        help="answer from a knowledge base (several: NAME,NAME), turn it off, or show them",
    )
    def _knowledge(ctx: CommandContext, argument: str) -> None:
        session = ctx.session
        retriever = session.retriever
        if retriever is None:
            raise ChatbotError(
                "no knowledge bases yet: make one with chatbot knowledge add NAME PATH, "
                "then start the chat again"
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
            listed = ", ".join(available) if available else "none (chatbot knowledge add NAME PATH)"
            ctx.notices.hint(f"bases: {listed}; /knowledge NAME, /knowledge off")

    @registry.add(
        "sources",
        usage="/sources",
        help="the passages the last answer was given, in full, with where each came from",
    )
    def _sources(ctx: CommandContext, _: str) -> None:
        from rich.text import Text

        reply = ctx.session.conversation.last_reply()
        if reply is None or not reply.sources:
            ctx.notices.hint("the last answer had no sources" if reply else "no answer yet")
            return
        for line, source in zip(source_lines(reply.sources), reply.sources, strict=True):
            ctx.notices.info(line.replace(source.where(), source.where(full=True)))
            ctx.console.print(Text(sanitize(source.text.strip()), style="dim"))
