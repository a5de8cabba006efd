"""What the store hands out and takes in: conversations, their messages and metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chatbot.conversation.messages import Message

__all__ = [
    "ConversationInfo",
    "ImportedConversation",
    "ImportedMessage",
    "MessageMeta",
    "StoredConversation",
]


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    """One line of the conversation list."""

    id: int
    title: str | None
    persona: str
    model: str
    created_at: float
    updated_at: float
    #: Number of user messages, summaries excluded.
    turns: int


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """What a stored message carries beyond :class:`Message`: who answered, and at what cost."""

    persona: str
    model: str
    params: Mapping[str, object]
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class StoredConversation:
    """A conversation as loaded from the store."""

    info: ConversationInfo
    system_prompt: str
    messages: list[Message]
    #: Per-message metadata keyed by message id.
    meta: Mapping[int, MessageMeta]


@dataclass(frozen=True, slots=True)
class ImportedMessage:
    message: Message
    meta: MessageMeta


@dataclass(frozen=True, slots=True)
class ImportedConversation:
    """A validated conversation from an export file, not yet in any store."""

    title: str | None
    persona: str
    model: str
    system_prompt: str
    created_at: float
    messages: tuple[ImportedMessage, ...]
