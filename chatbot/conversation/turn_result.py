"""What one exchange produced, for the front end to show."""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.api.events import UsageReport
from chatbot.conversation.messages import Message
from chatbot.conversation.references import References

__all__ = ["TurnResult"]


@dataclass(frozen=True, kw_only=True, slots=True)
class TurnResult:
    """What happened in one exchange, for the caller to show."""

    reply: Message
    #: Turns left out of this request to fit the budget.
    dropped_turns: int
    #: True the first time turns are dropped in this conversation: tell the user.
    first_drop: bool
    usage: UsageReport | None
    #: Turns summarised (overflow policy "summarize") before this request.
    compacted_turns: int = 0
    #: Set when summarising failed and old turns were dropped instead.
    compaction_note: str | None = None
    #: Tool rounds run in this turn (the model asked, the tools answered).
    tool_rounds: int = 0
    #: What the knowledge bases gave for the question; None when none is in use.
    references: References | None = None
