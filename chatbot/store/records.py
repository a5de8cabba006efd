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
    "SearchHit",
    "SearchResult",
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
    """A conversation as loaded from the store: all of it, or its newest part.

    A long conversation is loaded from a window (see ``Store.load_conversation``):
    the newest turns that fit ``window_tokens`` plus the newest summary. The older
    messages stay in the store; ``earlier`` counts them.
    """

    info: ConversationInfo
    system_prompt: str
    messages: list[Message]
    #: Per-message metadata keyed by message id.
    meta: Mapping[int, MessageMeta]
    #: Messages (summaries excluded) older than the window, left in the store.
    earlier: int = 0
    #: The token window this was loaded with; ``None`` when loaded whole.
    window_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A conversation that matched a search, and where."""

    info: ConversationInfo
    #: One line around the newest matching message text; ``None`` if only the title matched.
    snippet: str | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Matching conversations, most recently active first."""

    hits: list[SearchHit]
    #: False when a query too short for the index looked only at the newest messages.
    complete: bool = True


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
