"""Turning a server's chunks or JSON completion into :mod:`events`.

Chunks arrive as plain JSON objects (see :mod:`chatbot.api.body`), so every
oddity of a real server is visible here: content given as a list of parts,
choices the client did not ask for, tool calls arriving in fragments.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from chatbot.api.events import (
    Finished,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallsRequested,
    UsageReport,
)
from chatbot.text import clean_text

__all__ = ["ToolCalls", "content_text", "events_from_chunks", "events_from_completion"]


def content_text(content: object) -> str:
    """The text of a message or delta ``content``.

    A string, or (Mistral style) a list of typed parts, of which only the
    ``text`` parts are the answer; other part types are left out.
    """
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type", "text") == "text"
            and isinstance(part.get("text"), str)
        )
    return ""


class ToolCalls:
    """The tool calls a reply asked for, gathered from deltas by their ``index``.

    The id and name come in a call's first fragment and its JSON arguments in
    pieces after it; parallel calls interleave under different indexes. A server
    that omits the index (one whole call per chunk) gets one call per new id.
    """

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]
        self._last: int | None = None
        #: The legacy single ``function_call``: named, but not answerable as a tool call.
        self._legacy = ""

    def add(self, calls: object, *, whole: bool = False) -> None:
        """``delta.tool_calls`` (streamed) or ``message.tool_calls`` (``whole``)."""
        if not isinstance(calls, list):
            return
        for position, call in enumerate(calls):
            if not isinstance(call, dict):
                continue
            index = call.get("index")
            if not isinstance(index, int) or isinstance(index, bool):
                index = position if whole else self._index_without_one(_text(call.get("id")))
            self._add(index, call)

    def add_function_call(self, call: object) -> None:
        """The legacy single ``function_call`` field."""
        name = call.get("name") if isinstance(call, dict) else None
        if isinstance(name, str) and name and name != self._legacy:
            self._legacy += name

    def _index_without_one(self, call_id: str) -> int:
        last = self._last
        if last is None or (call_id and self._calls[last][0] not in ("", call_id)):
            return max(self._calls, default=-1) + 1
        return last

    def _add(self, index: int, call: Mapping[str, Any]) -> None:
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        known = self._calls.setdefault(index, ["", "", ""])
        self._last = index
        call_id = _text(call.get("id"))
        if call_id and not known[0]:
            known[0] = call_id
        # Most servers send the name once; some send it in pieces, some repeat it whole.
        name = _text(function.get("name"))
        if name and name != known[1]:
            known[1] += name
        known[2] += _text(function.get("arguments"))

    @property
    def names(self) -> tuple[str, ...]:
        names = [clean_text(name) or "unnamed" for _, name, _ in self._sorted()]
        return (*names, *([clean_text(self._legacy)] if self._legacy else []))

    def calls(self) -> tuple[ToolCall, ...]:
        """The whole calls, each with an id (made up when the server sent none)."""
        return tuple(
            ToolCall(
                id=clean_text(call_id) or f"call_{number}",
                name=clean_text(name),
                arguments=clean_text(arguments),
            )
            for number, (call_id, name, arguments) in enumerate(self._sorted(), start=1)
        )

    def _sorted(self) -> list[list[str]]:
        return [self._calls[index] for index in sorted(self._calls)]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _index(choice: Mapping[str, Any], position: int) -> int:
    index = choice.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else position


def _choose(choices: Sequence[object]) -> int | None:
    """Index 0 when present, else the first choice's: the one answer we show."""
    indices = [_index(c, n) for n, c in enumerate(choices) if isinstance(c, dict)]
    if not indices:
        return None
    return 0 if 0 in indices else indices[0]


def _usage(usage: object) -> UsageReport | None:
    if not isinstance(usage, dict):
        return None
    details = usage.get("completion_tokens_details")
    return UsageReport(
        prompt_tokens=_count(usage.get("prompt_tokens")) or 0,
        completion_tokens=_count(usage.get("completion_tokens")) or 0,
        reasoning_tokens=_count(
            details.get("reasoning_tokens") if isinstance(details, dict) else None
        ),
    )


def _count(value: object) -> int | None:
    """A token count the server reported, or None when it did not (or sent nonsense)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


#: The fields of a delta or message that carry the reply (a role alone carries nothing).
_CARRIERS = ("content", "reasoning_content", "reasoning", "refusal", "tool_calls", "function_call")


def _carries(part: object) -> bool:
    return isinstance(part, dict) and any(part.get(name) for name in _CARRIERS)


class _Growing:
    """Turns the whole ``message`` a server repeats in each chunk into the new part only.

    Some servers send each chunk's text in ``choices[i].message`` with an empty
    ``delta``: either just the new piece, or everything so far. A message that
    starts with everything read so far is taken to be the whole so far.
    """

    def __init__(self) -> None:
        self._so_far: dict[str, str] = {}

    def new_part(self, field: str, text: str) -> str:
        before = self._so_far.get(field, "")
        if before and text.startswith(before):
            self._so_far[field] = text
            return text[len(before) :]
        self._so_far[field] = before + text
        return text


def events_from_chunks(chunks: Iterable[Mapping[str, Any]]) -> Iterator[StreamEvent]:
    """Events from streamed ``chat.completion.chunk`` objects, ending with Finished.

    Follows the one choice that carries the reply, whatever its index: a server
    that sends its role at index 0 and the text at index 1 is still answering.
    When several carry text (``n`` ignored), index 0 wins, else the first that
    spoke. The text may come in ``delta`` or, for some servers, in a whole
    ``message`` per chunk.
    """
    finishes: dict[int, str] = {}
    chosen: int | None = None
    tools = ToolCalls()
    growing = _Growing()
    message_calls: object = None
    #: Once deltas carry the reply, a whole ``message`` is only its summary.
    by_delta = False
    for chunk in chunks:
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices:
            if chosen is None:
                chosen = _speaker(choices)
            for position, choice in enumerate(choices):
                if not isinstance(choice, dict):
                    continue
                index = _index(choice, position)
                reason = choice.get("finish_reason")
                if isinstance(reason, str) and reason:
                    finishes[index] = reason
                if index != chosen:
                    continue
                delta = choice.get("delta")
                message = choice.get("message")
                if by_delta or _carries(delta) or not _carries(message):
                    by_delta = by_delta or _carries(delta)
                    if isinstance(delta, dict):
                        # Read the content before acting on finish_reason: some servers
                        # put the last words and the finish on the same chunk.
                        yield from _thinking_and_text(delta)
                        if delta.get("tool_calls"):
                            tools.add(delta["tool_calls"])
                        if delta.get("function_call"):
                            tools.add_function_call(delta["function_call"])
                elif isinstance(message, dict):
                    yield from _thinking_and_text(message, growing=growing)
                    if message.get("tool_calls"):
                        message_calls = message["tool_calls"]
        usage = _usage(chunk.get("usage"))
        if usage is not None:
            yield usage
    if message_calls is not None and not tools.names:
        tools.add(message_calls, whole=True)
    finish = finishes.get(chosen) if chosen is not None else None
    if finish is None and chosen is None and finishes:
        finish = finishes.get(0) or next(iter(finishes.values()))
    yield from _ending(finish, tools)


def _speaker(choices: Sequence[object]) -> int | None:
    """The index of the choice that carries something in this chunk, if any does."""
    speaking = [
        _index(choice, position)
        for position, choice in enumerate(choices)
        if isinstance(choice, dict)
        and (_carries(choice.get("delta")) or _carries(choice.get("message")))
    ]
    if not speaking:
        return None
    return 0 if 0 in speaking else speaking[0]


def _thinking_and_text(
    part: Mapping[str, Any], *, growing: _Growing | None = None
) -> Iterator[StreamEvent]:
    """The reasoning, the answer text and any refusal of a delta or a whole message."""

    def new(field: str, text: str) -> str:
        return growing.new_part(field, text) if growing is not None else text

    reasoning = part.get("reasoning_content") or part.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        reasoning = new("reasoning", reasoning)
        if reasoning:
            yield ReasoningDelta(clean_text(reasoning))
    content = part.get("content")
    if isinstance(content, str):
        content = new("content", content)
        if content:
            yield TextDelta(clean_text(content))
    elif isinstance(content, list):
        yield from _parts(content)
    refusal = part.get("refusal")
    if isinstance(refusal, str) and refusal:
        refusal = new("refusal", refusal)
        if refusal:
            yield RefusalDelta(clean_text(refusal))


def _parts(parts: Sequence[object]) -> Iterator[StreamEvent]:
    """Typed content parts in order: ``text``, ``thinking`` (Mistral) and ``refusal``."""
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type", "text")
        if kind == "text" and isinstance(part.get("text"), str) and part["text"]:
            yield TextDelta(clean_text(part["text"]))
        elif kind in ("thinking", "reasoning"):
            thought = _thought(part.get("thinking", part.get("text")))
            if thought:
                yield ReasoningDelta(clean_text(thought))
        elif kind == "refusal" and isinstance(part.get("refusal"), str) and part["refusal"]:
            yield RefusalDelta(clean_text(part["refusal"]))


def _thought(value: object) -> str:
    """A thinking part's text: a string, or (Mistral) a list of text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            p["text"] for p in value if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def events_from_completion(completion: Mapping[str, Any]) -> Iterator[StreamEvent]:
    """Events from a non-streamed ``chat.completion`` JSON body."""
    finish: str | None = None
    tools = ToolCalls()
    choices = completion.get("choices")
    choices = choices if isinstance(choices, list) else []
    chosen = _speaker(choices)
    if chosen is None:
        chosen = _choose(choices)
    for position, choice in enumerate(choices):
        if not isinstance(choice, dict) or _index(choice, position) != chosen:
            continue
        message = choice.get("message")
        if not isinstance(message, dict):
            message = choice.get("delta")
        if isinstance(message, dict):
            yield from _thinking_and_text(message)
            tools.add(message.get("tool_calls"), whole=True)
            if message.get("function_call"):
                tools.add_function_call(message["function_call"])
        reason = choice.get("finish_reason")
        finish = reason if isinstance(reason, str) and reason else finish
    usage = _usage(completion.get("usage"))
    if usage is not None:
        yield usage
    yield from _ending(finish, tools)


def _ending(finish: str | None, tools: ToolCalls) -> Iterator[StreamEvent]:
    """The calls the reply asked for, if any, then Finished."""
    calls = tools.calls()
    if calls:
        yield ToolCallsRequested(calls)
    yield Finished(finish, tools=tools.names)
