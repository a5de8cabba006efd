"""The conversation and the choice of which of its turns fit the budget.

A *turn* is a user message and the assistant replies that answered it. Turns
are dropped whole, oldest first, so an assistant message is never sent without
the question it answered, and the newest user message is always sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from chatbot.conversation.messages import Message, Role
from chatbot.conversation.token_counter import TokenCounter
from chatbot.errors import MessageTooLarge
from chatbot.i18n import _

__all__ = ["Budget", "Conversation", "FittedRequest", "fit_to_budget"]

_ROLE = attrgetter("role")


@dataclass(frozen=True, kw_only=True, slots=True)
class Budget:
    """How many prompt tokens a request may use."""

    context_window: int
    reserved_for_reply: int

    @property
    def prompt_tokens(self) -> int:
        return max(1, self.context_window - self.reserved_for_reply)

    @classmethod
    def for_window(cls, context_window: int, *, max_tokens: int | None) -> Budget:
        """Reserve ``max_tokens`` for the reply, or a quarter of the window up to 1024."""
        reserve = max_tokens if max_tokens else min(1024, context_window // 4)
        # Never reserve so much that nothing is left for the question itself.
        reserve = min(reserve, context_window // 2)
        return cls(context_window=context_window, reserved_for_reply=reserve)


@dataclass(frozen=True, kw_only=True, slots=True)
class FittedRequest:
    """The messages to send, and what had to be left out."""

    messages: list[Message]
    estimated_tokens: int
    dropped_turns: int
    #: Index in the history of the oldest message that was kept.
    first_kept: int


def fit_to_budget(
    *,
    system: Message,
    pinned: Sequence[Message] = (),
    history: Sequence[Message],
    counter: TokenCounter,
    budget: Budget,
) -> FittedRequest:
    """Keep the newest whole turns of ``history`` that fit after ``system`` and ``pinned``.

    Walks back from the newest message and stops at the first turn that does
    not fit, so the cost is proportional to what is kept, not to the length of
    the whole conversation.
    """
    if not history or history[-1].role not in (Role.USER, Role.TOOL):
        # A tool result is newest while a turn's tool rounds go on.
        raise ValueError("the newest message of a request must be the user's or a tool result")
    limit = budget.prompt_tokens
    fixed = [system, *pinned]
    used = counter.request_tokens(fixed)

    kept_from = len(history)
    turn_tokens = 0
    index = len(history) - 1
    while index >= 0:
        message = history[index]
        turn_tokens += counter.message_tokens(message)
        if message.role is Role.USER or index == 0:
            # A turn is complete once we reach the user message that opened it.
            if used + turn_tokens > limit:
                break
            used += turn_tokens
            turn_tokens = 0
            kept_from = index
        index -= 1

    if kept_from == len(history):
        newest = counter.message_tokens(history[-1])
        # Attachments are part of the message, never cut: say what they weigh.
        files = ", ".join(f"{a.name} ~{counter.file_tokens(a):,}" for a in history[-1].attachments)
        weighed = f" ({files})" if files else ""
        raise MessageTooLarge(
            _(
                "That message is about {newest:,} tokens{weighed}, more than the "
                "{room:,} left for it in this model's {window:,}-token "
                "context (with {reserved:,} kept for the reply). Nothing was "
                "sent."
            ).format(
                newest=newest,
                weighed=weighed,
                room=limit - counter.request_tokens(fixed),
                window=budget.context_window,
                reserved=budget.reserved_for_reply,
            )
        )
    kept = list(history[kept_from:])
    dropped = _count_turns(history[:kept_from])
    return FittedRequest(
        messages=[*fixed, *kept],
        estimated_tokens=used,
        dropped_turns=dropped,
        first_kept=kept_from,
    )


def _count_turns(messages: Sequence[Message]) -> int:
    # map + count runs in C: this is over every dropped message, each turn.
    turns = list(map(_ROLE, messages)).count(Role.USER)
    # Assistant messages before any user message (an imported oddity) still count.
    return turns or (1 if messages else 0)


@dataclass(kw_only=True)
class Conversation:
    """The messages of one conversation, in order, after the system prompt."""

    system_prompt: str
    messages: list[Message] = field(default_factory=list)
    #: Summaries that stand in for older turns (compaction); sent after the system prompt.
    summaries: list[Message] = field(default_factory=list)
    #: Index into ``messages`` before which turns have been summarised.
    summarised_upto: int = 0

    def system_message(self) -> Message:
        return Message(role=Role.SYSTEM, content=self.system_prompt)

    @property
    def live_history(self) -> list[Message]:
        """Messages not yet replaced by a summary."""
        return self.messages[self.summarised_upto :]

    def append(self, message: Message) -> Message:
        self.messages.append(message)
        return message

    def last_user_index(self) -> int | None:
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index].role is Role.USER:
                return index
        return None

    def pop_replies_after_last_user(self) -> list[Message]:
        """Remove the replies to the newest question (for /retry); returns them."""
        index = self.last_user_index()
        if index is None or index < self.summarised_upto:
            return []
        removed = self.messages[index + 1 :]
        del self.messages[index + 1 :]
        return removed

    def pop_last_exchange(self) -> list[Message]:
        """Remove the newest question and its replies (for /undo); returns them."""
        index = self.last_user_index()
        if index is None or index < self.summarised_upto:
            return []
        removed = self.messages[index:]
        del self.messages[index:]
        return removed

    def last_reply(self) -> Message | None:
        for message in reversed(self.messages):
            if message.role is Role.ASSISTANT:
                return message
        return None

    def user_turns(self) -> int:
        return sum(1 for m in self.messages if m.role is Role.USER)
