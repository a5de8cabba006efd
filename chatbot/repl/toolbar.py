"""The bottom toolbar: persona, model, context fill, session tokens and cost.

It always fits the terminal on one line, measured in cells (Japanese text is two a
character): when it is too wide the least useful parts go first, then the model's
name is shortened, and nothing is ever cut through a character.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.cells import cell_width, cut
from chatbot.conversation.attachments import Attachment
from chatbot.conversation.session import ChatSession
from chatbot.i18n import _, ngettext
from chatbot.settings.catalogue import cost_of, format_dollars

__all__ = ["toolbar_text"]

_SEPARATOR = " │ "
#: The model's name is shortened to no less than this many cells before parts go.
_MODEL_MIN = 12


def toolbar_text(
    session: ChatSession, *, attachments: Sequence[Attachment] = (), width: int | None = None
) -> str:
    """Persona, model, context used against the budget, session tokens and cost if priced.

    Files waiting to go with the next message (/file) are counted first. With
    ``width`` (the terminal's columns) the line is fitted to it.
    """
    fill = session.context_fill()
    usage = session.usage
    files = ""
    if attachments:
        count = len(attachments)
        files = ngettext("{count} file attached", "{count} files attached", count).format(
            count=count
        )
    persona = session.persona.name
    model = session.params.model
    context = _("context {mark}{tokens:,}/{window:,}").format(
        mark=fill.mark, tokens=fill.tokens, window=fill.window
    )
    out = ""
    if session.dropped_turns:
        out = ngettext("{count} turn out", "{count} turns out", session.dropped_turns).format(
            count=session.dropped_turns
        )
    knowledge = ""
    retriever = session.retriever
    bases = retriever.bases_for(session.persona) if retriever is not None else ()
    if retriever is not None and bases:
        share = retriever.share_for(session.persona)
        knowledge = _("knowledge {bases} {share:.0%}").format(bases=",".join(bases), share=share)
    tokens = usage.prompt_tokens + usage.completion_tokens
    # The last request's usage was not reported, so the session total misses some.
    estimated = "~" if usage.estimated_requests else ""
    total = _("session {mark}{tokens:,} tokens").format(mark=estimated, tokens=tokens)
    cost = ""
    if tokens:
        priced = cost_of(usage.by_model, prices=session.config.prices)
        if not priced.unpriced:
            cost = estimated + format_dollars(priced.dollars)
    # In the order they are shown; dropped, when the line is too wide, in _DROP_ORDER.
    parts = {"files": files, "persona": persona, "model": model, "context": context,
             "out": out, "knowledge": knowledge, "total": total, "cost": cost}  # fmt: skip
    line = _joined(parts)
    if width is None or cell_width(line) <= width:
        return line
    for name in ("cost", "persona", "knowledge", "out", "files"):
        parts[name] = ""
        room = width - cell_width(_joined({**parts, "model": ""})) - len(_SEPARATOR)
        if room >= _MODEL_MIN:
            parts["model"] = cut(model, room)
            return _joined(parts)
    parts["model"] = cut(model, _MODEL_MIN)
    return cut(_joined(parts), width)


def _joined(parts: dict[str, str]) -> str:
    return " " + _SEPARATOR.join(part for part in parts.values() if part)
