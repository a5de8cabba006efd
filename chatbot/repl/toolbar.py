"""The bottom toolbar: persona, model, context fill, session tokens and cost."""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.conversation.attachments import Attachment
from chatbot.conversation.session import ChatSession
from chatbot.settings.catalogue import cost_of, format_dollars

__all__ = ["toolbar_text"]


def toolbar_text(session: ChatSession, *, attachments: Sequence[Attachment] = ()) -> str:
    """Persona, model, context used against the budget, session tokens and cost if priced.

    Files waiting to go with the next message (/file) are counted first.
    """
    fill = session.context_fill()
    usage = session.usage
    parts = [
        f" {session.persona.name}",
        session.params.model,
        f"context {fill.mark}{fill.tokens:,}/{fill.window:,}",
    ]
    if session.dropped_turns:
        parts.append(f"{session.dropped_turns} turns out")
    retriever = session.retriever
    bases = retriever.bases_for(session.persona) if retriever is not None else ()
    if bases:
        share = retriever.share_for(session.persona) if retriever is not None else 0
        parts.append(f"knowledge {','.join(bases)} {share:.0%}")
    tokens = usage.prompt_tokens + usage.completion_tokens
    # The last request's usage was not reported, so the session total misses some.
    estimated = "~" if usage.estimated_requests else ""
    parts.append(f"session {estimated}{tokens:,} tokens")
    if tokens:
        cost = cost_of(usage.by_model, prices=session.config.prices)
        if not cost.unpriced:
            parts.append(estimated + format_dollars(cost.dollars))
    if attachments:
        count = len(attachments)
        parts.insert(0, f" {count} file{'s' if count > 1 else ''} attached")
        parts[1] = parts[1].lstrip()
    return " │ ".join(parts)
