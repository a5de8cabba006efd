"""One streamed reply put together from its events: the answer, a refusal, the thinking.

The session streams; this decides what each event is and, at the end, what the
reply is: its content, its thinking (kept apart, never sent back), how it ended
(:func:`~chatbot.conversation.outcome.reply_status`) and the calls it asks for.
"""

from __future__ import annotations

from chatbot.api.events import (
    Finished,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCall,
    ToolCallsRequested,
    UsageReport,
)
from chatbot.api.reasoning import AnswerWasThinking, OpenedThinking, Split, ThoughtWithoutClose
from chatbot.conversation.messages import Message, ReplyStatus
from chatbot.conversation.outcome import reply_status
from chatbot.render import ReplyRenderer

__all__ = ["ReplyAssembly"]


class ReplyAssembly:
    """Takes a reply's events as they arrive, shows them, and settles the reply at the end."""

    def __init__(
        self,
        *,
        renderer: ReplyRenderer,
        opened: OpenedThinking,
        model: str,
    ) -> None:
        self._renderer = renderer
        self._opened = opened
        self._model = model
        self.parts: list[str] = []
        self.refusal: list[str] = []
        #: Thinking, in whichever form it came.
        self.thoughts: list[str] = []
        self.usage: UsageReport | None = None
        #: A stream that just stops never said it was finished.
        self.finished = Finished(None)
        self.calls: tuple[ToolCall, ...] = ()
        self._unclosed = ""

    def take(self, event: Split) -> None:
        if isinstance(event, TextDelta):
            self.parts.append(event.text)
            self._renderer.feed(event.text)
        elif isinstance(event, RefusalDelta):
            self.refusal.append(event.text)
            self._renderer.feed(event.text)
        elif isinstance(event, AnswerWasThinking):
            # Shown already, but thinking: kept as such, never sent back, and this
            # model's next replies start as thinking.
            self.parts.clear()
            self.thoughts.append(event.text)
            self._opened.add(self._model)
        elif isinstance(event, ThoughtWithoutClose):
            self._unclosed = event.text
        elif isinstance(event, ReasoningDelta):
            self.thoughts.append(event.text)
            self._renderer.think(event.text)
        elif isinstance(event, UsageReport):
            self.usage = event
        elif isinstance(event, ToolCallsRequested):
            self.calls = event.calls
        elif isinstance(event, Finished):
            self.finished = event

    @property
    def thinking(self) -> str:
        return "".join(self.thoughts).rstrip()

    def settle(self, reply: Message, *, tools_offered: bool) -> None:
        """Fill in ``reply`` from what arrived (its status stays if it was interrupted)."""
        finished = self.finished
        natural = reply_status(finished.reason, has_text=True) is ReplyStatus.COMPLETE
        if self._unclosed and natural:
            # Taken for thinking, but it ended naturally without </think>: the answer.
            self.thoughts.clear()
            self.parts.append(self._unclosed)
            self._renderer.feed(self._unclosed)
        reply.content = "".join(self.parts) + "".join(self.refusal)
        reply.thinking = self.thinking
        reply.replaced_bytes = finished.replaced_bytes
        if reply.status is not ReplyStatus.COMPLETE:
            return
        if self.refusal:
            reply.status = ReplyStatus.REFUSED
            return
        reply.status = reply_status(
            finished.reason, has_text=bool(reply.content.strip()), tools=finished.tools
        )
        reply.tool_names = finished.tools
        if reply.status is ReplyStatus.TOOL_CALLS and tools_offered:
            # Only calls to tools we offered are kept: each will get its answer.
            reply.tool_calls = self.calls
        if reply.status is not ReplyStatus.COMPLETE:
            reply.finish_reason = finished.reason
