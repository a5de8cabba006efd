"""Turning a server's chunks or JSON completion into :mod:`events`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatbot.api.events import Finished, ReasoningDelta, StreamEvent, TextDelta, UsageReport
from chatbot.text import clean_text

__all__ = ["events_from_chunks", "events_from_completion"]


def events_from_chunks(chunks: Any) -> Iterator[StreamEvent]:
    finish: str | None = None
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
            if choice.finish_reason:
                finish = choice.finish_reason
        if usage is not None:
            details = getattr(usage, "completion_tokens_details", None)
            yield UsageReport(
                prompt_tokens=usage.prompt_tokens or 0,
                completion_tokens=usage.completion_tokens or 0,
                reasoning_tokens=_count(getattr(details, "reasoning_tokens", None)),
            )
    yield Finished(finish)


def events_from_completion(completion: object) -> Iterator[StreamEvent]:
    """Events from a non-streamed ``chat.completion`` JSON body."""
    body = completion if isinstance(completion, dict) else {}
    finish: str | None = None
    for choice in body.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        message = message if isinstance(message, dict) else {}
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            yield ReasoningDelta(clean_text(reasoning))
        content = message.get("content")
        if isinstance(content, str) and content:
            yield TextDelta(clean_text(content))
        reason = choice.get("finish_reason")
        finish = reason if isinstance(reason, str) else finish
    usage = body.get("usage")
    if isinstance(usage, dict):
        details = usage.get("completion_tokens_details")
        yield UsageReport(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            reasoning_tokens=_count(
                details.get("reasoning_tokens") if isinstance(details, dict) else None
            ),
        )
    yield Finished(finish)


def _count(value: object) -> int | None:
    """A token count the server reported, or None when it did not (or sent nonsense)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
