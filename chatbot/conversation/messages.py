"""The message model shared by the context manager, the client and the store."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from chatbot.conversation.attachments import Attachment, api_content

__all__ = ["Message", "ReplyStatus", "Role"]


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class ReplyStatus(StrEnum):
    """How an assistant reply ended; user and system messages are always complete."""

    COMPLETE = "complete"
    INTERRUPTED = "interrupted"  # the user pressed Ctrl-C
    LENGTH = "length"  # cut by max_tokens
    FILTERED = "content_filter"
    FAILED = "failed"  # the stream broke midway
    CACHED = "cached"  # answered from the response cache


@dataclass(slots=True, kw_only=True, eq=False)
class Message:
    """One chat message.

    ``eq=False`` keeps identity semantics so a message can key the token-count
    cache even when two messages share the same text.
    """

    role: Role
    content: str
    status: ReplyStatus = ReplyStatus.COMPLETE
    #: Row id in the conversation store, once persisted.
    id: int | None = None
    created_at: float = field(default_factory=time.time)
    #: True for a summary that stands in for older turns (see compaction).
    summary: bool = False
    #: (content the count was made for, raw token estimate); see TokenCounter.
    token_cache: tuple[str, int] | None = field(default=None, repr=False)
    #: Files attached to a user message, in the order they were attached.
    attachments: tuple[Attachment, ...] = ()

    def to_api(self) -> dict[str, object]:
        """The dict the chat completions API expects.

        ``content`` stays a string unless images are attached; see
        :func:`~chatbot.conversation.attachments.api_content`.
        """
        if not self.attachments:
            return {"role": self.role.value, "content": self.content}
        return {"role": self.role.value, "content": api_content(self.content, self.attachments)}
