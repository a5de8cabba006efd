"""How a reply ended, in the one line the user sees: the REPL and one-shot share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chatbot.conversation.messages import Message, ReplyStatus, Role

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


def describe_outcome(reply: Message, *, tool_rounds: int = 0) -> Outcome | None:
    """The line for how ``reply`` ended, or None for a plain complete reply.

    A turn with tool calls can end on a tool result: cancelled with Ctrl-C, or
    not run because the turn used its ``tool_rounds``.
    """
    status = reply.status
    if reply.role is Role.TOOL:
        return _tool_outcome(reply, tool_rounds=tool_rounds)
    if status is ReplyStatus.TOOL_CALLS:
        return Outcome(
            level="warning",
            text="the model asked to use a tool, but none was offered",
            next_step="/tools shows which tools there are and whether they are on",
            exit_code=1,
        )
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


def _tool_outcome(result: Message, *, tool_rounds: int) -> Outcome | None:
    if result.status is ReplyStatus.INTERRUPTED:
        return Outcome(
            level="hint",
            text="tool call cancelled; the turn ended",
            next_step="what was shown is kept (/retry to ask again)",
            exit_code=130,
        )
    if result.status is ReplyStatus.SKIPPED:
        return Outcome(
            level="warning",
            text=f"stopped after {tool_rounds} tool rounds: the model kept asking for tools",
            next_step="send a message to let it go on",
            exit_code=1,
        )
    return None
