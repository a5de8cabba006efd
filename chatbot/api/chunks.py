"""Turning a server's chunks or JSON completion into :mod:`events`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatbot.api.events import (
    Finished,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallsRequested,
    UsageReport,
)
from chatbot.text import clean_text

__all__ = ["ToolCallAssembler", "events_from_chunks", "events_from_completion"]


class ToolCallAssembler:
    """Gathers streamed ``delta.tool_calls`` fragments into whole calls, by ``index``.

    The id and name come in the first fragment of a call and its JSON arguments in
    pieces after it; parallel calls interleave under different indexes. Servers
    that omit the index (one whole call per chunk) get one call per new id.
    """

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]
        self._last: int | None = None

    def add(self, fragment: Any) -> None:
        call_id = _text(_field(fragment, "id"))
        function = _field(fragment, "function")
        name = _text(_field(function, "name"))
        arguments = _text(_field(function, "arguments"))
        index = _field(fragment, "index")
        if not isinstance(index, int) or isinstance(index, bool):
            index = self._index_without_one(call_id)
        call = self._calls.setdefault(index, ["", "", ""])
        self._last = index
        if call_id and not call[0]:
            call[0] = call_id
        # Names arrive whole in practice; a server that repeats it must not double it.
        if name and name != call[1]:
            call[1] += name
        call[2] += arguments

    def _index_without_one(self, call_id: str) -> int:
        last = self._last
        if last is None or (call_id and self._calls[last][0] not in ("", call_id)):
            return max(self._calls, default=-1) + 1
        return last

    def calls(self) -> tuple[ToolCall, ...]:
        gathered = []
        for number, index in enumerate(sorted(self._calls)):
            call_id, name, arguments = self._calls[index]
            gathered.append(
                ToolCall(
                    id=clean_text(call_id) or f"call_{number + 1}",
                    name=clean_text(name),
                    arguments=clean_text(arguments),
                )
            )
        return tuple(gathered)


def _field(obj: Any, name: str) -> Any:
    """An attribute of an SDK object or a key of a dict, whichever the server gave."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def events_from_chunks(chunks: Any) -> Iterator[StreamEvent]:
    finish: str | None = None
    tool_calls = ToolCallAssembler()
    for chunk in chunks:
        usage = getattr(chunk, "usage", None)
        for choice in chunk.choices or ():
            delta = choice.delta
            if delta is not None:
                # Read the content before acting on finish_reason: some servers
                # put the last words and the finish on the same chunk.
                extra = delta.model_extra or {}
                reasoning = extra.get("reasoning_content") or extra.get("reasoning")
                if isinstance(reasoning, str) and reasoning:
                    yield ReasoningDelta(clean_text(reasoning))
                if delta.content:
                    yield TextDelta(clean_text(delta.content))
                for fragment in getattr(delta, "tool_calls", None) or ():
                    tool_calls.add(fragment)
            if choice.finish_reason:
                finish = choice.finish_reason
        if usage is not None:
            yield UsageReport(
                prompt_tokens=usage.prompt_tokens or 0,
                completion_tokens=usage.completion_tokens or 0,
            )
    calls = tool_calls.calls()
    if calls:
        yield ToolCallsRequested(calls)
    yield Finished(finish)


def events_from_completion(completion: object) -> Iterator[StreamEvent]:
    """Events from a non-streamed ``chat.completion`` JSON body."""
    body = completion if isinstance(completion, dict) else {}
    finish: str | None = None
    tool_calls = ToolCallAssembler()
    for choice in body.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and content:
            yield TextDelta(clean_text(content))
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for position, call in enumerate(calls if isinstance(calls, list) else ()):
            if isinstance(call, dict):
                tool_calls.add({**call, "index": call.get("index", position)})
        reason = choice.get("finish_reason")
        finish = reason if isinstance(reason, str) else finish
    usage = body.get("usage")
    if isinstance(usage, dict):
        yield UsageReport(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )
    gathered = tool_calls.calls()
    if gathered:
        yield ToolCallsRequested(gathered)
    yield Finished(finish)
