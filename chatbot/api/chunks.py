"""Turning a server's chunks or JSON completion into :mod:`events`.

Chunks arrive as plain JSON objects (see :mod:`chatbot.api.body`), so every
oddity of a real server is visible here: content given as a list of parts,
choices the client did not ask for, tool calls in a chat that offers none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from chatbot.api.events import Finished, ReasoningDelta, StreamEvent, TextDelta, UsageReport
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
    """The tool calls a reply asked for, gathered from deltas by their index.

    Only names are kept for now: this chat offers no tools, so a tool call is
    a reply we cannot use, and the user is told which tools were asked for.
    """

    def __init__(self) -> None:
        self._names: dict[int, str] = {}

    def add(self, calls: object) -> None:
        """``delta.tool_calls`` (streamed) or ``message.tool_calls`` (whole)."""
        if not isinstance(calls, list):
            return
        for position, call in enumerate(calls):
            if not isinstance(call, dict):
                continue
            index = call.get("index")
            self._add_name(index if isinstance(index, int) else position, call.get("function"))

    def add_function_call(self, call: object) -> None:
        """The legacy single ``function_call`` field."""
        self._add_name(-1, call)

    def _add_name(self, index: int, function: object) -> None:
        name = function.get("name") if isinstance(function, dict) else None
        known = self._names.setdefault(index, "")
        # Most servers send the name once; some send it in pieces, some repeat it whole.
        if isinstance(name, str) and name and name != known:
            self._names[index] = known + name

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(clean_text(name) or "unnamed" for _, name in sorted(self._names.items()))


def _index(choice: Mapping[str, Any], position: int) -> int:
    index = choice.get("index")
    return index if isinstance(index, int) else position


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
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        reasoning_tokens=_count(
            details.get("reasoning_tokens") if isinstance(details, dict) else None
        ),
    )


def _count(value: object) -> int | None:
    """A token count the server reported, or None when it did not (or sent nonsense)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def events_from_chunks(chunks: Iterable[Mapping[str, Any]]) -> Iterator[StreamEvent]:
    """Events from streamed ``chat.completion.chunk`` objects, ending with Finished.

    A server that sends several choices anyway (``n`` ignored) is shown only
    one: index 0, or the only one there is, whatever its index.
    """
    finish: str | None = None
    chosen: int | None = None
    tools = ToolCalls()
    for chunk in chunks:
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices:
            if chosen is None:
                chosen = _choose(choices)
            for position, choice in enumerate(choices):
                if not isinstance(choice, dict) or _index(choice, position) != chosen:
                    continue
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    # Read the content before acting on finish_reason: some servers
                    # put the last words and the finish on the same chunk.
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if isinstance(reasoning, str) and reasoning:
                        yield ReasoningDelta(clean_text(reasoning))
                    text = content_text(delta.get("content"))
                    if text:
                        yield TextDelta(clean_text(text))
                    if delta.get("tool_calls"):
                        tools.add(delta["tool_calls"])
                    if delta.get("function_call"):
                        tools.add_function_call(delta["function_call"])
                reason = choice.get("finish_reason")
                if isinstance(reason, str) and reason:
                    finish = reason
        usage = _usage(chunk.get("usage"))
        if usage is not None:
            yield usage
    yield Finished(finish, tools=tools.names)


def events_from_completion(completion: Mapping[str, Any]) -> Iterator[StreamEvent]:
    """Events from a non-streamed ``chat.completion`` JSON body."""
    finish: str | None = None
    tools = ToolCalls()
    choices = completion.get("choices")
    choices = choices if isinstance(choices, list) else []
    chosen = _choose(choices)
    for position, choice in enumerate(choices):
        if not isinstance(choice, dict) or _index(choice, position) != chosen:
            continue
        message = choice.get("message")
        if isinstance(message, dict):
            reasoning = message.get("reasoning_content") or message.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                yield ReasoningDelta(clean_text(reasoning))
            text = content_text(message.get("content"))
            if text:
                yield TextDelta(clean_text(text))
            tools.add(message.get("tool_calls"))
            if message.get("function_call"):
                tools.add_function_call(message["function_call"])
        reason = choice.get("finish_reason")
        finish = reason if isinstance(reason, str) and reason else finish
    usage = _usage(completion.get("usage"))
    if usage is not None:
        yield usage
    yield Finished(finish, tools=tools.names)
