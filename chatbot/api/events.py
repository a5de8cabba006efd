"""What a chat backend takes and gives: the request and the stream of events.

:class:`ChatBackend` is the seam between the conversation and the network: the
real :class:`~chatbot.api.client.ChatClient` implements it over HTTP, and
:class:`~chatbot.api.scripted.ScriptedBackend` implements it from a script, so
conversation and REPL tests run in-process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chatbot.api.cancel import Cancellation

__all__ = [
    "ChatBackend",
    "ChatRequest",
    "Finished",
    "ReasoningDelta",
    "RefusalDelta",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "ToolCallsRequested",
    "UsageReport",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class ChatRequest:
    model: str
    #: Chat messages as sent; ``content`` is a string, or a list of parts with images,
    #: and tool calls and results carry their ids.
    messages: Sequence[Mapping[str, Any]]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: Sequence[str] | None = None
    #: Function tools offered to the model (OpenAI ``tools``); None offers none.
    tools: Sequence[Mapping[str, Any]] | None = None
    #: More fields for the request body, for what a server adds (llama.cpp's ``grammar``).
    extra_body: Mapping[str, object] | None = None
    #: Lets another thread stop this stream (the web's Stop); not part of the request sent.
    cancel: Cancellation | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    """Text of a refusal (OpenAI's ``delta.refusal``): the model declined to answer."""

    text: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    prompt_tokens: int
    completion_tokens: int
    #: Thinking tokens among the completion tokens, when the server says
    #: (``usage.completion_tokens_details.reasoning_tokens``).
    reasoning_tokens: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolCall:
    """One call the model asked for: its id, the tool's name and its raw JSON arguments."""

    id: str
    name: str
    #: Exactly what the model sent, valid JSON or not: it is checked before anything runs.
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCallsRequested:
    """The reply asks for these calls (streamed ``delta.tool_calls``, gathered by index)."""

    calls: tuple[ToolCall, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    #: "stop", "length", "content_filter", ... or None when the server never said.
    reason: str | None
    #: Names of the tools the model asked to call (their calls: ToolCallsRequested).
    tools: tuple[str, ...] = ()
    #: Bytes of the body that were not valid UTF-8 and arrived as U+FFFD instead.
    replaced_bytes: int = 0


StreamEvent = (
    TextDelta | ReasoningDelta | RefusalDelta | UsageReport | ToolCallsRequested | Finished
)


class ChatBackend(Protocol):
    """Streams replies and names the models a server offers."""

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        """Yield the reply as it arrives; raise :class:`~chatbot.errors.ApiError` subclasses."""
        ...

    def list_models(self) -> list[str]:
        """Model ids the server offers; empty when it will not say."""
        ...
