"""How a reply ended, in the one line the user sees: the REPL and one-shot share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chatbot.conversation.messages import Message, ReplyStatus

__all__ = ["Outcome", "describe_outcome"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """What to tell the user about a reply that did not simply complete."""

    level: Literal["hint", "warning", "error"]
    #: The line itself, the same in the REPL and on one-shot's stderr.
    text: str
    #: What the REPL can offer next ("/continue asks for the rest"); not for one-shot.
    next_step: str | None = None
    #: One-shot's exit status for this ending.
    exit_code: int = 0

    def in_repl(self) -> str:
        return f"{self.text}; {self.next_step}" if self.next_step else self.text


def describe_outcome(reply: Message) -> Outcome | None:
    """The line for how ``reply`` ended, or None for a plain complete reply."""
    status = reply.status
    if status is ReplyStatus.INTERRUPTED:
        return Outcome(
            level="hint",
            text="reply interrupted",
            next_step="what arrived is kept (/retry for a new one)",
            exit_code=130,
        )
    if status is ReplyStatus.LENGTH:
        return Outcome(
            level="warning",
            text="the reply was cut by the max_tokens limit",
            next_step="/continue asks for the rest",
        )
    if status is ReplyStatus.FILTERED:
        return Outcome(level="warning", text="the server's content filter stopped the reply")
    if status is ReplyStatus.CACHED:
        return Outcome(level="hint", text="(answered from the response cache)")
    return None
