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
    """How an assistant reply ended; user and system messages are always complete.

    A reply is COMPLETE only when the server said ``finish_reason: stop``;
    :func:`chatbot.conversation.outcome.reply_status` is the one mapping.
    """

    COMPLETE = "complete"
    INTERRUPTED = "interrupted"  # the user pressed Ctrl-C
    LENGTH = "length"  # cut by max_tokens
    FILTERED = "content_filter"
    FAILED = "failed"  # the stream broke midway
    CACHED = "cached"  # answered from the response cache
    CUT = "cut"  # the stream ended with no finish_reason
    TOOL_CALLS = "tool_calls"  # the model asked for tools this chat does not offer
    EMPTY = "empty"  # nothing usable arrived
    ABNORMAL = "abnormal"  # finish_reason abort, error or unknown: see Message.finish_reason


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
    #: The model's thinking before this reply: shown and stored, never sent back.
    thinking: str = ""
    #: Thinking tokens the server reported for this reply; None when it did not say.
    thinking_tokens: int | None = None
    #: (content the count was made for, raw token estimate); see TokenCounter.
    token_cache: tuple[str, int] | None = field(default=None, repr=False)
    #: Files attached to a user message, in the order they were attached.
    attachments: tuple[Attachment, ...] = ()
    #: The server's finish_reason when it is not "stop" (kept in the store's params).
    finish_reason: str | None = None
    #: The tools a TOOL_CALLS reply asked for, by name.
    tool_names: tuple[str, ...] = ()

    def to_api(self) -> dict[str, object]:
        """The dict the chat completions API expects: never the thinking (vendors advise so).

        ``content`` stays a string unless images are attached; see
        :func:`~chatbot.conversation.attachments.api_content`.
        """
        if not self.attachments:
            return {"role": self.role.value, "content": self.content}
        return {"role": self.role.value, "content": api_content(self.content, self.attachments)}
