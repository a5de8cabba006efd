"""One conversation with one server: the verbs shared by every front end.

It owns the conversation state, applies the persona, fits the history to the
token budget, streams the reply into a renderer and records every message in
the journal as soon as it exists. It never prints: callers show notices from
the :class:`TurnResult` and the one-line text of any :class:`ChatbotError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from chatbot.api.cancel import Cancellation
from chatbot.api.events import ChatBackend
from chatbot.api.reasoning import OpenedThinking
from chatbot.conversation.attachments import Attachment
from chatbot.conversation.compaction import Compactor, summary_message
from chatbot.conversation.history import Budget, Conversation, FittedRequest
from chatbot.conversation.journal import Journal, NullJournal
from chatbot.conversation.lookup import look_up
from chatbot.conversation.messages import Message, Role
from chatbot.conversation.references import References, Retriever
from chatbot.conversation.retry import RetryPolicy, Waiter, sleeping_waiter
from chatbot.conversation.state import SessionState
from chatbot.conversation.token_counter import TokenCounter
from chatbot.conversation.tool_turns import ToolHost, numbered_results, run_tool_rounds
from chatbot.conversation.turn_result import TurnResult
from chatbot.conversation.turns import ReplyCache, TurnRunner
from chatbot.conversation.usage import ContextFill, SessionUsage
from chatbot.errors import (
    ChatbotError,
    CompactionFailed,
    MessageTooLarge,
)
from chatbot.i18n import _, ngettext
from chatbot.render import ReplyRenderer
from chatbot.settings.config import Config, ModelParams, ServedModels
from chatbot.settings.limits import OverflowPolicy
from chatbot.settings.personas import Persona
from chatbot.text import clean_text

__all__ = ["ChatSession", "ReplyCache", "TurnResult"]


class ChatSession:
    """A conversation bound to a server, a persona and a journal.

    The verbs a front end uses (send, retry, undo, compact, switch persona or model)
    live here; answering one request is its :class:`~chatbot.conversation.turns.TurnRunner`'s.
    """

    def __init__(
        self,
        *,
        config: Config,
        persona: Persona,
        backend: ChatBackend,
        counter: TokenCounter | None = None,
        journal: Journal | None = None,
        cache: ReplyCache | None = None,
        retry_policy: RetryPolicy | None = None,
        waiter: Waiter = sleeping_waiter,
        notify: Callable[[str], None] | None = None,
        tools: ToolHost | None = None,
        served: ServedModels | None = None,
        opened_thinking: OpenedThinking | None = None,
        retriever: Retriever | None = None,
    ) -> None:
        self.state = SessionState(
            config=config,
            persona=persona,
            conversation=Conversation(system_prompt=persona.system),
            journal=journal or NullJournal(),
            served=served,
            retriever=retriever,
        )
        self.usage = SessionUsage()
        self.turns = TurnRunner(
            state=self.state,
            backend=backend,
            counter=counter or TokenCounter(),
            usage=self.usage,
            cache=cache,
            retry_policy=retry_policy,
            waiter=waiter,
            tools=tools,
            opened_thinking=opened_thinking,
        )
        #: Shows a short notice while something slow happens (summarising).
        self.notify = notify or (lambda _text: None)
        self._told_about_drop = False
        self.clear()

    # -- what the session is now ------------------------------------------

    @property
    def config(self) -> Config:
        return self.state.config

    @config.setter
    def config(self, config: Config) -> None:
        self.state.config = config

    @property
    def persona(self) -> Persona:
        return self.state.persona

    @property
    def conversation(self) -> Conversation:
        return self.state.conversation

    @property
    def journal(self) -> Journal:
        return self.state.journal

    @property
    def params(self) -> ModelParams:
        return self.state.params

    @property
    def budget(self) -> Budget:
        return self.state.budget

    @property
    def backend(self) -> ChatBackend:
        return self.turns.backend

    @property
    def counter(self) -> TokenCounter:
        return self.turns.counter

    @property
    def tools(self) -> ToolHost | None:
        return self.turns.tools

    @property
    def dropped_turns(self) -> int:
        return self.turns.dropped_turns

    def fit(
        self, history: Sequence[Message] | None = None, *, max_prompt_tokens: int | None = None
    ) -> FittedRequest:
        """The request the next send would make, trimmed to the budget (or tighter)."""
        return self.turns.fit(history, max_prompt_tokens=max_prompt_tokens)

    def context_fill(self) -> ContextFill:
        """The last request's size, or an estimate of the next one's before any request."""
        usage = self.usage
        window = self.params.context_window
        if usage.requests:
            return ContextFill(
                tokens=usage.last_prompt_tokens,
                window=window,
                exact=usage.last_prompt_exact,
                measured=True,
            )
        conversation = self.conversation
        tokens = self.counter.request_tokens(
            [conversation.system_message(), *conversation.summaries, *conversation.live_history]
        )
        return ContextFill(tokens=tokens, window=window, exact=False, measured=False)

    # -- verbs --------------------------------------------------------------

    def clear(self) -> None:
        """Start a new conversation with the same persona and model."""
        self.state.conversation = Conversation(system_prompt=self.persona.system)
        self.turns.dropped_turns = 0
        self._told_about_drop = False
        self.journal.start_conversation(
            persona=self.persona, system_prompt=self.persona.system, model=self.params.model
        )

    def switch_persona(self, persona: Persona) -> None:
        """New system prompt and parameters; the history is kept."""
        self.state.persona = persona
        self.conversation.system_prompt = persona.system
        self._settings_changed()

    def set_model(self, model: str) -> None:
        self.config = self.config.with_model(model)
        self._settings_changed()

    def _settings_changed(self) -> None:
        self.journal.settings_changed(
            persona=self.persona,
            system_prompt=self.conversation.system_prompt,
            model=self.params.model,
        )

    def adopt(
        self, conversation: Conversation, *, persona: Persona, model: str | None = None
    ) -> None:
        """Continue a conversation loaded from the store, on its ``model`` if given."""
        if model is not None:
            self.config = self.config.with_model(model)
        self.state.persona = persona
        self.state.conversation = conversation
        self.turns.dropped_turns = 0
        self._told_about_drop = False

    @property
    def overflow_policy(self) -> OverflowPolicy:
        return self.config.overflow_for(self.persona)

    @property
    def retriever(self) -> Retriever | None:
        """The knowledge bases searched for each question; None searches none."""
        return self.state.retriever

    def send(
        self,
        text: str,
        *,
        renderer: ReplyRenderer,
        attachments: Sequence[Attachment] = (),
        look_up: bool = True,
        cancel: Cancellation | None = None,
    ) -> TurnResult:
        """Ask ``text``, with ``attachments``, and stream the answer into ``renderer``.

        With a knowledge base in use, its passages for ``text`` go with the question
        (``look_up=False``: a follow-up such as /continue keeps the last ones).

        Raises MessageTooLarge (nothing sent or recorded) or an ApiError (the
        question is kept, so /retry can ask it again). ``cancel`` lets another
        thread stop the turn: what arrived is kept, as after Ctrl-C.
        """
        with self._cancellable(cancel):
            return self._send(text, renderer=renderer, attachments=attachments, look_up=look_up)

    @contextmanager
    def _cancellable(self, cancel: Cancellation | None) -> Iterator[None]:
        self.turns.cancel = cancel
        try:
            yield
        finally:
            self.turns.cancel = None

    def _send(
        self,
        text: str,
        *,
        renderer: ReplyRenderer,
        attachments: Sequence[Attachment],
        look_up: bool,
    ) -> TurnResult:
        question = Message(role=Role.USER, content=clean_text(text), attachments=tuple(attachments))
        # A follow-up that is no new question (/continue) keeps the last passages.
        references = self._look_up(question) if look_up else None
        # Fit before recording, so a message too large leaves no trace but the
        # input history, where the user can recall it.
        fitted = self.fit([*self.conversation.live_history, question])
        compacted, note = 0, None
        if fitted.dropped_turns and self.overflow_policy is OverflowPolicy.SUMMARIZE:
            fitted, compacted, note = self._summarize_overflow(fitted, question)
        self.conversation.append(question)
        self.journal.record(question, persona=self.persona, params=self.params)
        result = self._answer(fitted, renderer=renderer)
        if compacted or note or references is not None:
            result = replace(
                result, compacted_turns=compacted, compaction_note=note, references=references
            )
        return result

    def _look_up(self, question: Message) -> References | None:
        return look_up(question, state=self.state, counter=self.counter)

    def compact(self, *, upto: int | None = None, keep_turns: int = 2) -> int:
        """Summarise the live history before index ``upto`` (default: all but the
        last ``keep_turns`` turns) into one labelled summary; returns turns covered.

        Raises CompactionFailed; then nothing has changed.
        """
        live = self.conversation.live_history
        if upto is None:
            starts = [i for i, m in enumerate(live) if m.role is Role.USER]
            if len(starts) <= keep_turns:
                return 0
            upto = starts[-keep_turns] if keep_turns else len(live)
        covered = live[:upto]
        if not covered:
            return 0
        summaries = self.conversation.summaries
        params = self.params
        compactor = Compactor(
            backend=self.backend, counter=self.counter, on_usage=self.turns.record_reported_usage
        )
        text = compactor.summarize(
            covered,
            model=params.model,
            budget=self.budget,
            previous=summaries[-1] if summaries else None,
        )
        summary = summary_message(text)
        self.conversation.summaries = [summary]
        self.conversation.summarised_upto += upto
        self.turns.dropped_turns = 0  # the summary now stands in for what was left out
        self.journal.record_summary(
            summary,
            covers=self.conversation.summarised_upto,
            persona=self.persona,
            params=params,
        )
        return sum(1 for m in covered if m.role is Role.USER) or 1

    def _summarize_overflow(
        self, fitted: FittedRequest, question: Message
    ) -> tuple[FittedRequest, int, str | None]:
        """Summarise the turns that no longer fit, instead of dropping them."""
        self.notify(
            ngettext(
                "summarising {count} older turn to keep it in context…",
                "summarising {count} older turns to keep them in context…",
                fitted.dropped_turns,
            ).format(count=fitted.dropped_turns)
        )
        compacted = 0
        try:
            # The summary takes room too, which may push out more turns: fold
            # those in as well, a bounded number of times.
            for _ in range(3):
                compacted += self.compact(upto=fitted.first_kept)
                try:
                    fitted = self.fit([*self.conversation.live_history, question])
                except MessageTooLarge:
                    # With the summary there is no room left for the question:
                    # send this once as dropping would have (that request fits);
                    # the summary serves the turns after it.
                    break
                if not fitted.dropped_turns:
                    break
        except CompactionFailed as exc:
            note = f"could not summarise older turns ({exc}); the oldest were left out instead"
            return fitted, compacted, note
        return fitted, compacted, None

    def retry(self, *, renderer: ReplyRenderer, cancel: Cancellation | None = None) -> TurnResult:
        """Regenerate the reply to the newest question (never from the cache)."""
        with self._cancellable(cancel):
            return self._retry(renderer=renderer)

    def _retry(self, *, renderer: ReplyRenderer) -> TurnResult:
        conversation = self.conversation
        index = conversation.last_user_index()
        if index is None or index < conversation.summarised_upto:
            raise ChatbotError(_("nothing to retry yet"))
        # Fit first: if the question no longer fits (a smaller model since),
        # the old reply must still be there.
        question = conversation.messages[index]
        if question.references is None and self.retriever is not None:
            self._look_up(question)  # resumed: search again
        elif question.references is not None:
            self.state.reply_sources = question.references.sources
        fitted = self.fit(conversation.messages[conversation.summarised_upto : index + 1])
        self.journal.forget(conversation.pop_replies_after_last_user())
        return self._answer(fitted, renderer=renderer, use_cache=False)

    def undo(self) -> list[Message]:
        """Drop the newest question and its replies."""
        removed = self.conversation.pop_last_exchange()
        self.journal.forget(removed)
        return removed

    def _answer(
        self, fitted: FittedRequest, *, renderer: ReplyRenderer, use_cache: bool = True
    ) -> TurnResult:
        first_drop = fitted.dropped_turns > 0 and not self._told_about_drop
        if first_drop:
            self._told_about_drop = True
        try:
            result = self.turns.answer(
                fitted, renderer=renderer, first_drop=first_drop, use_cache=use_cache
            )
            if result.reply.tool_calls and self.tools is not None:
                result = run_tool_rounds(
                    result,
                    host=self.tools,
                    renderer=renderer,
                    answer=self._next_tool_round,
                    keep=self._keep_tool_result,
                    first_number=self._next_tool_number,
                )
            return result
        finally:
            renderer.finish()

    def _next_tool_round(self, renderer: ReplyRenderer) -> TurnResult:
        """The model's answer to the tool results just kept."""
        return self.turns.answer(self.fit(), renderer=renderer, first_drop=False, use_cache=False)

    def _keep_tool_result(self, message: Message) -> None:
        self.conversation.append(message)
        self.journal.record(message, persona=self.persona, params=self.params)

    def _next_tool_number(self) -> int:
        """The number ``/tool N`` will know the next tool result by."""
        return len(numbered_results(self.conversation.messages)) + 1
