"""Tool rounds inside one turn: run what the model asked for, send the results, repeat.

A reply that asks for tool calls is kept, each call is answered by one TOOL
message (its result, or why it did not run), and the model is asked again with
those results, until it answers in text or the turn reaches its round limit.
Every call is always answered, so the history stays valid for the next request.
The session knows nothing about how tools run: that is the :class:`ToolHost`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from chatbot.api.events import ToolCall, UsageReport
from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.conversation.turn_result import TurnResult
from chatbot.errors import ChatbotError, MessageTooLarge
from chatbot.i18n import _
from chatbot.render import ReplyRenderer
from chatbot.settings.personas import Persona

__all__ = ["ToolHost", "numbered_results", "run_tool_rounds", "tool_message"]

#: Tool results the user never saw a line for: they take no number.
_UNSEEN = (ReplyStatus.NOT_RUN, ReplyStatus.SKIPPED)


def numbered_results(messages: Sequence[Message]) -> list[Message]:
    """The tool results ``/tool N`` knows, in order: one per call line the user saw."""
    return [m for m in messages if m.role is Role.TOOL and m.status not in _UNSEEN]


class ToolHost(Protocol):
    """What a session needs from the tools: what to offer, and running calls."""

    @property
    def max_rounds(self) -> int:
        """Tool rounds allowed in one turn."""
        ...

    def offered(self, *, model: str, persona: Persona) -> list[dict[str, Any]] | None:
        """The request's ``tools`` for this model and persona; None offers none."""
        ...

    def refused(self, *, model: str, reason: str) -> None:
        """The server will not take tools for ``model``: stop offering them, say so once."""
        ...

    def run_calls(
        self, calls: Sequence[ToolCall], *, first_number: int, keep: Callable[[Message], None]
    ) -> bool:
        """Answer every call with one TOOL message passed to ``keep``, in order.

        Returns False when the user cancelled (Ctrl-C): the turn ends there.
        """
        ...

    def new_renderer(self) -> ReplyRenderer:
        """A fresh renderer for the model's next answer in the same turn."""
        ...


def tool_message(
    call: ToolCall, content: str, *, status: ReplyStatus = ReplyStatus.COMPLETE
) -> Message:
    """The TOOL message answering ``call``."""
    return Message(
        role=Role.TOOL,
        content=content,
        status=status,
        tool_call_id=call.id,
        tool_name=call.name,
    )


def run_tool_rounds(
    first: TurnResult,
    *,
    host: ToolHost,
    renderer: ReplyRenderer,
    answer: Callable[[ReplyRenderer], TurnResult],
    keep: Callable[[Message], None],
    first_number: Callable[[], int],
) -> TurnResult:
    """Go on from ``first`` (a reply asking for tools) until the model answers in text.

    ``answer`` fits the history as it now is and streams the next reply.
    """
    result = first
    rounds = 0
    usages = [first.usage]
    answered: list[Message] = []

    def keep_answer(message: Message) -> None:
        answered.append(message)
        keep(message)

    while result.reply.tool_calls:
        renderer.finish()
        calls = result.reply.tool_calls
        if rounds >= host.max_rounds:
            note = f"not run: this turn reached its limit of {host.max_rounds} tool rounds"
            skipped = [tool_message(call, note, status=ReplyStatus.SKIPPED) for call in calls]
            for message in skipped:
                keep(message)
            return _ended(result, skipped[-1], rounds, usages)
        answered.clear()
        go_on = host.run_calls(calls, first_number=first_number(), keep=keep_answer)
        rounds += 1
        if not go_on:
            # The turn ends on the call the user cancelled, not on those never shown.
            shown = [m for m in answered if m.status is not ReplyStatus.NOT_RUN]
            return _ended(result, shown[-1] if shown else result.reply, rounds, usages)
        renderer = host.new_renderer()
        try:
            result = replace(answer(renderer), first_drop=first.first_drop)
        except MessageTooLarge:
            raise ChatbotError(
                _(
                    "the tool results are too large for this model's context, so the turn "
                    "stopped; ask for less output, or use a model with a larger context"
                )
            ) from None
        finally:
            renderer.finish()
        usages.append(result.usage)
    return replace(result, tool_rounds=rounds, usage=_total(usages))


def _ended(
    result: TurnResult, last: Message, rounds: int, usages: list[UsageReport | None]
) -> TurnResult:
    return replace(result, reply=last, tool_rounds=rounds, usage=_total(usages))


def _total(usages: list[UsageReport | None]) -> UsageReport | None:
    """The turn's usage over all its requests; None unless the server reported every one."""
    if any(usage is None for usage in usages):
        return None
    reported = [usage for usage in usages if usage is not None]
    return UsageReport(
        prompt_tokens=sum(u.prompt_tokens for u in reported),
        completion_tokens=sum(u.completion_tokens for u in reported),
    )
