"""A :class:`~chatbot.api.events.ChatBackend` that plays back a script, with no server.

Like prompt-toolkit's ``Dummy*`` classes it sits beside the protocol it
implements, so conversation, compaction and REPL tests run in-process and in
milliseconds. The real client is tested against a real SSE server instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from chatbot.api.events import (
    ChatRequest,
    Finished,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallsRequested,
    UsageReport,
)
from chatbot.errors import ApiError

__all__ = ["ScriptedBackend", "ScriptedReply", "reply"]


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """One answer: the events to yield, then optionally an error to raise."""

    events: tuple[StreamEvent, ...]
    error: ApiError | None = None


def reply(
    text: str = "",
    *,
    chunks: int = 3,
    finish: str | None = "stop",
    usage: tuple[int, int] | None = None,
    error: ApiError | None = None,
    tool_calls: Sequence[tuple[str, str]] = (),
) -> ScriptedReply:
    """A reply streaming ``text`` in about ``chunks`` pieces, then ``finish``.

    With ``error`` the text streams and then the error is raised, with no
    finish event, as a connection dropping mid-reply does. ``tool_calls`` are
    (name, JSON arguments) pairs the reply asks for, with ids ``call_1``….
    """
    size = max(1, -(-len(text) // max(1, chunks)))
    events: list[StreamEvent] = [
        TextDelta(text[start : start + size]) for start in range(0, len(text), size)
    ]
    if error is None:
        if usage is not None:
            events.append(UsageReport(prompt_tokens=usage[0], completion_tokens=usage[1]))
        if tool_calls:
            calls = tuple(
                ToolCall(id=f"call_{n}", name=name, arguments=arguments)
                for n, (name, arguments) in enumerate(tool_calls, start=1)
            )
            events.append(ToolCallsRequested(calls))
            finish = "tool_calls" if finish == "stop" else finish
        events.append(Finished(finish, tools=tuple(name for name, _ in tool_calls)))
    return ScriptedReply(events=tuple(events), error=error)


@dataclass
class ScriptedBackend:
    """Answers each request with the next scripted reply and records the request.

    When the script runs out it answers with ``fallback``, or echoes the last
    user message when no fallback is given, so long tests need no long script.
    """

    script: list[ScriptedReply | ApiError] = field(default_factory=list)
    models: Sequence[str] = ()
    fallback: ScriptedReply | None = None
    requests: list[ChatRequest] = field(default_factory=list)

    def add(self, *replies: ScriptedReply | ApiError) -> None:
        """Queue more replies, in order."""
        self.script.extend(replies)

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else self._default(request)
        if isinstance(step, ApiError):
            raise step
        for event in step.events:
            # Stop from another thread ends the stream between events, as a closed socket does.
            if request.cancel is not None:
                request.cancel.raise_if_cancelled()
            yield event
        if step.error is not None:
            raise step.error

    def list_models(self) -> list[str]:
        return sorted(self.models)

    def close(self) -> None:
        """Nothing to release; here so it can stand in wherever the client is closed."""

    def _default(self, request: ChatRequest) -> ScriptedReply:
        if self.fallback is not None:
            return self.fallback
        users = [m for m in request.messages if m.get("role") == "user"]
        last = users[-1].get("content", "") if users else ""
        return reply(f"You said: {_text_of(last)}")


def _text_of(content: object) -> str:
    """The text of a message content, whether a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""
