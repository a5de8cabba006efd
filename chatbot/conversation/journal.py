"""Where a chat session records what happens, so persistence can slot in.

The chat session tells its journal about every message the moment it exists;
the SQLite store implements this, and :class:`NullJournal` keeps nothing (for
``--no-store`` and for tests that do not care).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from chatbot.conversation.messages import Message
from chatbot.settings.config import ModelParams
from chatbot.settings.personas import Persona

__all__ = ["Journal", "NullJournal"]


class Journal(Protocol):
    def start_conversation(self, *, persona: Persona, system_prompt: str, model: str) -> None:
        """A new conversation begins (start-up or /clear)."""

    def record(
        self,
        message: Message,
        *,
        persona: Persona,
        params: ModelParams,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        """Persist ``message`` now; sets ``message.id``."""

    def forget(self, messages: Sequence[Message]) -> None:
        """The user removed these messages (/undo, /retry)."""

    def record_usage(self, *, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        """The server reported what one request used; kept even if its messages go."""

    def usage_since(self, *, since: float) -> Mapping[str, tuple[int, int]] | None:
        """(prompt, completion) tokens recorded since ``since`` per model; None if none kept."""

    def record_summary(
        self, summary: Message, *, covers: int, persona: Persona, params: ModelParams
    ) -> None:
        """Persist a summary standing in for the first ``covers`` messages."""

    def settings_changed(self, *, persona: Persona, system_prompt: str, model: str) -> None:
        """Persona, system prompt or model changed mid-conversation."""


class NullJournal:
    """Records nothing."""

    def start_conversation(self, *, persona: Persona, system_prompt: str, model: str) -> None:
        return None

    def record(
        self,
        message: Message,
        *,
        persona: Persona,
        params: ModelParams,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        return None

    def forget(self, messages: Sequence[Message]) -> None:
        return None

    def record_usage(self, *, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        return None

    def usage_since(self, *, since: float) -> Mapping[str, tuple[int, int]] | None:
        return None

    def record_summary(
        self, summary: Message, *, covers: int, persona: Persona, params: ModelParams
    ) -> None:
        return None

    def settings_changed(self, *, persona: Persona, system_prompt: str, model: str) -> None:
        return None
