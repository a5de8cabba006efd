"""Fitting a history with tool results: old results are the first thing to go.

A tool result can be kilobytes of command output that mattered for one answer
and little after it. When the history does not fit, results from earlier rounds
are replaced by a one-line stub in the request (the store keeps them) before
any whole turn is left out; the newest round's results are always sent whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from chatbot.conversation.history import Budget, FittedRequest, fit_to_budget
from chatbot.conversation.messages import Message, Role
from chatbot.conversation.token_counter import TokenCounter
from chatbot.errors import MessageTooLarge

__all__ = ["fit_history", "shorten_old_results"]

_ROLE = attrgetter("role")
#: Results this short cost little: they stay as they are.
_KEEP_CHARS = 300


def fit_history(
    *,
    system: Message,
    pinned: Sequence[Message],
    history: Sequence[Message],
    counter: TokenCounter,
    budget: Budget,
) -> FittedRequest:
    """:func:`fit_to_budget`, shortening old tool results before dropping turns."""
    try:
        fitted = fit_to_budget(
            system=system, pinned=pinned, history=history, counter=counter, budget=budget
        )
    except MessageTooLarge:
        shortened = shorten_old_results(history)
        if shortened is None:
            raise
        return fit_to_budget(
            system=system, pinned=pinned, history=shortened, counter=counter, budget=budget
        )
    if not fitted.dropped_turns:
        return fitted
    shortened = shorten_old_results(history)
    if shortened is None:
        return fitted
    better = fit_to_budget(
        system=system, pinned=pinned, history=shortened, counter=counter, budget=budget
    )
    return better if better.dropped_turns < fitted.dropped_turns else fitted


def shorten_old_results(history: Sequence[Message]) -> list[Message] | None:
    """``history`` with every long tool result but the newest round's stubbed; None if none."""
    roles = list(map(_ROLE, history))
    if Role.TOOL not in roles:
        return None
    newest = len(roles)
    while newest > 0 and roles[newest - 1] is Role.TOOL:
        newest -= 1
    changed = False
    shortened = list(history)
    for index in range(newest):
        message = history[index]
        if message.role is Role.TOOL and len(message.content) > _KEEP_CHARS:
            shortened[index] = Message(
                role=Role.TOOL,
                content=(
                    f"[an earlier result of {len(message.content):,} characters, left out to "
                    "save room; call the tool again if it is still needed]"
                ),
                status=message.status,
                tool_call_id=message.tool_call_id,
                tool_name=message.tool_name,
            )
            changed = True
    return shortened if changed else None
