"""Domain exceptions, turned into one friendly line at the CLI edge.

Every error a user can cause or a server can produce is one of these. Their
``str()`` is the line shown to the user, so it must never contain a secret.
"""

from __future__ import annotations

import copy
from typing import Self

__all__ = [
    "ApiError",
    "AttachmentError",
    "AuthenticationFailed",
    "ChatbotError",
    "ClipboardUnavailable",
    "CompactionFailed",
    "ConfigError",
    "ContextLengthExceeded",
    "ImagesRejected",
    "MessageTooLarge",
    "ModelNotFound",
    "PersonaError",
    "PullFailed",
    "PullInterrupted",
    "RateLimited",
    "ReplyTimedOut",
    "ServerError",
    "ServerUnreachable",
    "StoreError",
    "StreamDropped",
    "ToolsUnsupported",
]


class ChatbotError(Exception):
    """Base of every error shown to the user as one line."""

    #: Process exit status in one-shot mode.
    exit_code: int = 1


class ConfigError(ChatbotError):
    """Bad flags, environment or configuration files: the user's to fix."""

    exit_code = 2


class PersonaError(ConfigError):
    """A personas file is malformed, or a persona name is unknown."""


class StoreError(ConfigError):
    """The conversation store cannot be opened or is not ours to touch."""


class AttachmentError(ConfigError):
    """A file cannot be attached (missing, a folder, binary, unreadable, too big)."""


class PullFailed(ChatbotError):
    """``chatbot pull`` could not download the model; nothing half-written is usable."""


class PullInterrupted(PullFailed):
    """Ctrl-C during ``chatbot pull``; the partial download is kept to resume."""

    exit_code = 130


class MessageTooLarge(ChatbotError):
    """A single message does not fit the model's budget; nothing was sent."""

    exit_code = 2


class ClipboardUnavailable(ChatbotError):
    """No way to reach a clipboard: no tool installed, and no terminal to ask."""


class CompactionFailed(ChatbotError):
    """A summary could not be made; the caller falls back to dropping turns."""


class ApiError(ChatbotError):
    """The server or the network failed; the conversation stays consistent."""

    #: True when waiting and asking again automatically may succeed.
    retryable: bool = False

    def __init__(
        self, message: str, *, retry_after: float | None = None, partial_reply_kept: bool = False
    ) -> None:
        super().__init__(message)
        #: Seconds the server asked us to wait before asking again, when it said.
        self.retry_after = retry_after
        #: True when part of a reply had been shown (and kept) before the failure.
        self.partial_reply_kept = partial_reply_kept

    def with_partial_reply_kept(self) -> Self:
        """A copy marked as having kept a partial reply; the caught error stays as it was."""
        marked = copy.copy(self)
        marked.partial_reply_kept = True
        return marked


class AuthenticationFailed(ApiError):
    """The server rejected the API key (401) or its permissions (403)."""


class ModelNotFound(ApiError):
    """The server does not know the requested model."""

    def __init__(self, message: str, *, available: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        #: The models the server does offer, for the hint and for /model completion.
        self.available = available


class RateLimited(ApiError):
    """The server asked us to slow down (429)."""

    retryable = True


class ServerError(ApiError):
    """The server answered with a 5xx status or an error event."""

    retryable = True


class ReplyTimedOut(ApiError):
    """No answer within the configured timeout."""


class ServerUnreachable(ApiError):
    """Connection refused, DNS failure, or similar: the URL is named."""


class StreamDropped(ApiError):
    """The connection broke after the reply had started streaming."""


class ContextLengthExceeded(ApiError):
    """The server said the request is longer than the model's context."""


class ToolsUnsupported(ApiError):
    """The server refused a request because it offered tools: this server or model has none."""


class ImagesRejected(ApiError):
    """The model or server refused a message because it carried images."""
