"""What one conversation is right now: its settings, persona, messages and journal.

The session's verbs and its turn runner share this one object, so neither holds
a copy of the other's state.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.conversation.history import Budget, Conversation
from chatbot.conversation.journal import Journal
from chatbot.conversation.references import Retriever, Source
from chatbot.settings.config import Config, ModelParams, ServedModels
from chatbot.settings.personas import Persona

__all__ = ["SessionState"]


@dataclass(kw_only=True)
class SessionState:
    config: Config
    persona: Persona
    conversation: Conversation
    journal: Journal
    #: The server's word on models (its default, the context it serves); None: only settings.
    served: ServedModels | None = None
    #: The knowledge bases searched for each question; None searches none.
    retriever: Retriever | None = None
    #: The sources the replies of the current turn are given (its passages).
    reply_sources: tuple[Source, ...] = ()

    @property
    def params(self) -> ModelParams:
        return self.config.params_for(self.persona, self.served)

    @property
    def budget(self) -> Budget:
        params = self.params
        return Budget.for_window(params.context_window, max_tokens=params.max_tokens)
