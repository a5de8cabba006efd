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
    if reply.thinking and not reply.content.strip():
        thought_only = _thought_but_no_answer(reply)
        if thought_only is not None:
            return thought_only
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


def _thought_but_no_answer(reply: Message) -> Outcome | None:
    """A reply that is all thinking: say so plainly instead of showing nothing."""
    if reply.status is ReplyStatus.LENGTH:
        return Outcome(
            level="warning",
            text="the model used its whole max_tokens budget thinking; raise --max-tokens",
            next_step="/thinking shows what it thought",
        )
    if reply.status is ReplyStatus.COMPLETE:
        return Outcome(
            level="warning",
            text="the model stopped while still thinking and gave no answer",
            next_step="/thinking shows what it thought; /retry asks again",
        )
    return None
