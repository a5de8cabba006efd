"""What a chat backend takes and gives: the request and the stream of events.

:class:`ChatBackend` is the seam between the conversation and the network: the
real :class:`~chatbot.api.client.ChatClient` implements it over HTTP, and
:class:`~chatbot.api.scripted.ScriptedBackend` implements it from a script, so
conversation and REPL tests run in-process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "ChatBackend",
    "ChatRequest",
    "Finished",
    "ReasoningDelta",
    "StreamEvent",
    "TextDelta",
    "UsageReport",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class ChatRequest:
    model: str
    #: Chat messages as sent; ``content`` is a string, or a list of parts with images.
    messages: Sequence[Mapping[str, object]]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: Sequence[str] | None = None
    #: More fields for the request body, for what a server adds (llama.cpp's ``grammar``).
    extra_body: Mapping[str, object] | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    prompt_tokens: int
    completion_tokens: int
    #: Thinking tokens among the completion tokens, when the server says
    #: (``usage.completion_tokens_details.reasoning_tokens``).
    reasoning_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    #: "stop", "length", "content_filter", ... or None when the server never said.
    reason: str | None
    #: Names of the tools the model asked to call (this chat offers none).
    tools: tuple[str, ...] = ()


StreamEvent = TextDelta | ReasoningDelta | UsageReport | Finished


class ChatBackend(Protocol):
    """Streams replies and names the models a server offers."""

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        """Yield the reply as it arrives; raise :class:`~chatbot.errors.ApiError` subclasses."""
        ...

    def list_models(self) -> list[str]:
        """Model ids the server offers; empty when it will not say."""
        ...
