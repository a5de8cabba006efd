"""The message model shared by the context manager, the client and the store."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chatbot.api.events import ToolCall
from chatbot.conversation.attachments import Attachment, api_content
from chatbot.conversation.references import References, Source, reference_block

__all__ = ["Message", "ReplyStatus", "Role", "ToolCall", "restore_tool_fields"]


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    #: The result of one tool call, sent back to the model.
    TOOL = "tool"


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
    #: The reply asks for tool calls: with tools offered, their results follow as
    #: TOOL messages; otherwise the tools it asked for are only named (tool_names).
    TOOL_CALLS = "tool_calls"
    EMPTY = "empty"  # nothing usable arrived
    ABNORMAL = "abnormal"  # finish_reason abort, error or unknown: see Message.finish_reason
    #: The model declined to answer (OpenAI's ``refusal`` field): the content is its words.
    REFUSED = "refusal"
    #: A TOOL message for a call the user did not approve (the model is told).
    DECLINED = "declined"
    #: A TOOL message for a call not run: the turn reached its limit of tool rounds.
    SKIPPED = "skipped"
    #: A TOOL message for a call never shown nor run: the user cancelled an earlier
    #: call of the same round (Ctrl-C), so this one has no number.
    NOT_RUN = "not_run"


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
    #: Bytes of the reply that were not UTF-8 and show as U+FFFD (said, not stored).
    replaced_bytes: int = 0
    #: The tools a TOOL_CALLS reply asked for, by name.
    tool_names: tuple[str, ...] = ()
    #: An assistant reply's tool calls, each answered by a TOOL message after it.
    tool_calls: tuple[ToolCall, ...] = ()
    #: A TOOL message: the call it answers, and the tool's name (for people).
    tool_call_id: str | None = None
    tool_name: str | None = None
    #: A question's passages from the knowledge bases, sent before it in this turn's
    #: requests only (never stored: the reply keeps the sources).
    references: References | None = field(default=None, repr=False)
    #: The passages an answer was given with, numbered as the model saw them.
    sources: tuple[Source, ...] = ()

    def to_api(self) -> dict[str, Any]:
        """The dict the chat completions API expects: never the thinking (vendors advise so).

        ``content`` stays a string unless images are attached; see
        :func:`~chatbot.conversation.attachments.api_content`. Tool calls and
        results carry their ids.
        """
        if self.role is Role.TOOL:
            return {
                "role": "tool",
                "tool_call_id": self.tool_call_id or "",
                "content": self.content,
            }
        if self.tool_calls:
            return {
                "role": self.role.value,
                # null, not "": some servers reject an empty string beside tool calls.
                "content": self.content or None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in self.tool_calls
                ],
            }
        content = self.content
        if self.references is not None:
            # Material first and the question last, as with attached files.
            content = f"{reference_block(self.references)}\n{content}"
        if not self.attachments:
            return {"role": self.role.value, "content": content}
        return {"role": self.role.value, "content": api_content(content, self.attachments)}

    def tool_fields(self) -> dict[str, object]:
        """The tool parts of this message as plain JSON, for the store's ``params``."""
        fields: dict[str, object] = {}
        if self.tool_calls:
            fields["tool_calls"] = [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            fields["tool_call_id"] = self.tool_call_id
        if self.tool_name is not None:
            fields["tool_name"] = self.tool_name
        return fields


def restore_tool_fields(message: Message, params: Mapping[str, object]) -> Message:
    """Put back what :meth:`Message.tool_fields` saved; odd shapes are ignored."""
    calls = params.get("tool_calls")
    if isinstance(calls, list):
        message.tool_calls = tuple(
            ToolCall(id=str(c["id"]), name=str(c["name"]), arguments=str(c["arguments"]))
            for c in calls
            if isinstance(c, dict) and {"id", "name", "arguments"} <= c.keys()
        )
    call_id = params.get("tool_call_id")
    if isinstance(call_id, str):
        message.tool_call_id = call_id
    name = params.get("tool_name")
    if isinstance(name, str):
        message.tool_name = name
    return message
