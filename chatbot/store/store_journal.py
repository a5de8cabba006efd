"""The journal that writes every message to the conversation store as it happens.

A conversation row is created lazily, with its first message, so starting and
leaving the chatbot without a word leaves no empty conversation behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from chatbot.api.events import ChatRequest
from chatbot.conversation.history import Conversation
from chatbot.conversation.messages import Message
from chatbot.settings.config import ModelParams
from chatbot.settings.personas import Persona, PersonaBook
from chatbot.store.database import Store
from chatbot.store.records import StoredConversation
from chatbot.store.thinking_params import thinking_params

if TYPE_CHECKING:
    from chatbot.conversation.session import ChatSession

__all__ = [
    "StoreJournal",
    "StoreReplyCache",
    "conversation_from_store",
    "persona_for_stored",
    "resume",
]


class StoreJournal:
    """A :class:`~chatbot.journal.Journal` backed by a :class:`Store`."""

    def __init__(self, store: Store, *, conversation_id: int | None = None) -> None:
        self.store = store
        self.conversation_id = conversation_id
        self._pending: tuple[str, str, str] | None = None
        #: Messages of a resumed conversation left in the store, older than those in memory.
        self._earlier = 0

    def start_conversation(self, *, persona: Persona, system_prompt: str, model: str) -> None:
        self.conversation_id = None
        self._pending = (persona.name, system_prompt, model)
        self._earlier = 0

    def continue_conversation(self, conversation_id: int, *, earlier: int = 0) -> None:
        """Write to ``conversation_id``, of which ``earlier`` messages were not loaded."""
        self.conversation_id = conversation_id
        self._pending = None
        self._earlier = earlier

    def _ensure_conversation(self) -> int:
        if self.conversation_id is None:
            persona, system_prompt, model = self._pending or ("default", "", "")
            self.conversation_id = self.store.create_conversation(
                persona=persona, model=model, system_prompt=system_prompt
            )
            self._pending = None
        return self.conversation_id

    def record(
        self,
        message: Message,
        *,
        persona: Persona,
        params: ModelParams,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        conversation_id = self._ensure_conversation()
        self.store.append_message(
            conversation_id,
            message,
            persona=persona.name,
            model=params.model,
            # A tool call or result keeps its ids and names here, to be resumed and exported.
            params={
                **_params(params),
                **_ending(message),
                **thinking_params(message),
                **message.tool_fields(),
            },
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    def forget(self, messages: Sequence[Message]) -> None:
        ids = [m.id for m in messages if m.id is not None]
        if ids:
            self.store.delete_messages(ids)

    def record_summary(
        self, summary: Message, *, covers: int, persona: Persona, params: ModelParams
    ) -> None:
        # ``covers`` counts the messages in memory; the store counts from the first.
        self.store.append_message(
            self._ensure_conversation(),
            summary,
            persona=persona.name,
            model=params.model,
            params={"covers": covers + self._earlier},
        )

    def record_usage(self, *, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        self.store.record_usage(
            self._ensure_conversation(),
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    def usage_since(self, *, since: float) -> Mapping[str, tuple[int, int]]:
        return self.store.usage_by_model(since=since)

    def settings_changed(self, *, persona: Persona, system_prompt: str, model: str) -> None:
        if self.conversation_id is None:
            self._pending = (persona.name, system_prompt, model)
            return
        self.store.update_conversation(
            self.conversation_id, persona=persona.name, model=model, system_prompt=system_prompt
        )


def _params(params: ModelParams) -> dict[str, object]:
    values: dict[str, object] = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
        "stop": list(params.stop) if params.stop else None,
    }
    return {k: v for k, v in values.items() if v is not None}


def _ending(message: Message) -> dict[str, object]:
    """How a reply ended beyond its status: the server's finish value, the tools asked for."""
    extras: dict[str, object] = {}
    if message.finish_reason is not None:
        extras["finish_reason"] = message.finish_reason
    if message.tool_names:
        extras["tool_names"] = list(message.tool_names)
    return extras


def _restore_ending(message: Message, params: Mapping[str, object]) -> None:
    finish = params.get("finish_reason")
    if isinstance(finish, str):
        message.finish_reason = finish
    names = params.get("tool_names")
    if isinstance(names, list):
        message.tool_names = tuple(str(name) for name in names)


def conversation_from_store(stored: StoredConversation) -> Conversation:
    """Rebuild the in-memory conversation, summaries included, from the store.

    For a conversation loaded from a window, the newest summary stands in for
    the turns before it and the ``stored.earlier`` messages left in the store.
    """
    conversation = Conversation(system_prompt=stored.system_prompt)
    last_summary = -1
    for index, message in enumerate(stored.messages):
        if message.summary:
            last_summary = index
    for index, message in enumerate(stored.messages):
        if message.summary:
            # Only the newest summary stands in for the turns before it.
            if index == last_summary:
                conversation.summaries = [message]
            continue
        meta = stored.meta.get(message.id) if message.id is not None else None
        if meta is not None:
            _restore_ending(message, meta.params)
        conversation.append(message)
    if last_summary >= 0:
        newest = stored.messages[last_summary]
        meta = stored.meta.get(newest.id) if newest.id is not None else None
        covers = meta.params.get("covers") if meta is not None else None
        if isinstance(covers, int):
            # Counted from the conversation's first message, not the window's.
            covers -= stored.earlier
        else:
            # Without a record of what it covers, assume everything before it.
            covers = sum(1 for m in stored.messages[:last_summary] if not m.summary)
        conversation.summarised_upto = max(0, min(covers, len(conversation.messages)))
    return conversation


def resume(
    session: ChatSession, stored: StoredConversation, *, book: PersonaBook, journal: StoreJournal
) -> None:
    """Continue ``stored`` in ``session``: its messages, persona and model.

    The stored model is used only when the user chose none (flag or
    environment) this time: a conversation begun on a local model must not
    send that model's name to another server the user now points at.
    """
    keep_model = stored.info.model and session.config.overrides.model is None
    persona = persona_for_stored(stored, book)
    model = stored.info.model if keep_model else None
    session.adopt(conversation_from_store(stored), persona=persona, model=model)
    wider = _widened(session, stored, store=journal.store)
    if wider is not stored:
        session.adopt(conversation_from_store(wider), persona=persona, model=model)
        stored = wider
    journal.continue_conversation(stored.info.id, earlier=stored.earlier)


def _widened(
    session: ChatSession, stored: StoredConversation, *, store: Store
) -> StoredConversation:
    """More of ``stored`` when the model's budget is larger than the window it came from.

    The default window covers common context sizes; a model with a larger one
    gets the turns it can use, as it would have before the conversation was left.
    """
    budget = session.budget.prompt_tokens
    if not stored.earlier or stored.window_tokens is None or budget <= stored.window_tokens:
        return stored
    return store.load_conversation(stored.info.id, window_tokens=budget)


def persona_for_stored(stored: StoredConversation, book: PersonaBook) -> Persona:
    """The persona a stored conversation used, or an ad-hoc one with its prompt."""
    name = stored.info.persona
    if name in book:
        persona = book.get(name)
        if persona.system == stored.system_prompt:
            return persona
    return book.ad_hoc(stored.system_prompt or "You are a helpful assistant.")


class StoreReplyCache:
    """Answers an identical request (persona, model, parameters, messages) from the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _key(self, request: ChatRequest, *, persona: str) -> str:
        params = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            "stop": list(request.stop) if request.stop else None,
        }
        return Store.cache_key(
            persona=persona, model=request.model, params=params, messages=request.messages
        )

    def lookup(self, request: ChatRequest, *, persona: str) -> str | None:
        return self.store.cache_get(self._key(request, persona=persona))

    def remember(self, request: ChatRequest, *, persona: str, reply: str) -> None:
        self.store.cache_put(self._key(request, persona=persona), reply=reply, model=request.model)
