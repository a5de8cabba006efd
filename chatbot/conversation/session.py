"""One conversation with one server: the turn loop shared by the REPL and one-shot mode.

It owns the conversation state, applies the persona, fits the history to the
token budget, streams the reply into a renderer and records every message in
the journal as soon as it exists. It never prints: callers show notices from
the :class:`TurnResult` and the one-line text of any :class:`ChatbotError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from chatbot.conversation.attachments import Attachment
from chatbot.conversation.compaction import Compactor, summary_message
from chatbot.conversation.history import Conversation, FittedRequest
from chatbot.conversation.messages import Message, Role
from chatbot.conversation.references import References
from chatbot.conversation.tool_turns import numbered_results, run_tool_rounds
from chatbot.conversation.turns import ReplyCache, SessionCore, TurnResult
from chatbot.errors import (
    ChatbotError,
    CompactionFailed,
    MessageTooLarge,
)
from chatbot.render import ReplyRenderer
from chatbot.settings.personas import Persona
from chatbot.text import clean_text

__all__ = ["ChatSession", "ReplyCache", "TurnResult"]

#: Tokens left free beside the question and the passages (rounding in the estimates).
_QUESTION_MARGIN = 32


class ChatSession(SessionCore):
    """A conversation bound to a server, a persona and a journal."""

    def switch_persona(self, persona: Persona) -> None:
        """New system prompt and parameters; the history is kept."""
        self.persona = persona
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
        self.persona = persona
        self.conversation = conversation
        self.dropped_turns = 0
        self._told_about_drop = False

    @property
    def overflow_policy(self) -> str:
        return self.config.overflow or self.persona.overflow or "drop"

    def send(
        self,
        text: str,
        *,
        renderer: ReplyRenderer,
        attachments: Sequence[Attachment] = (),
        look_up: bool = True,
    ) -> TurnResult:
        """Ask ``text``, with ``attachments``, and stream the answer into ``renderer``.

        With a knowledge base in use, its passages for ``text`` go with the question
        (``look_up=False``: a follow-up such as /continue keeps the last ones).

        Raises MessageTooLarge (nothing sent or recorded) or an ApiError (the
        question is kept, so /retry can ask it again).
        """
        question = Message(role=Role.USER, content=clean_text(text), attachments=tuple(attachments))
        # A follow-up that is no new question (/continue) keeps the last passages.
        references = self._look_up(question) if look_up else None
        # Fit before recording, so a message too large leaves no trace but the
        # input history, where the user can recall it.
        fitted = self.fit([*self.conversation.live_history, question])
        compacted, note = 0, None
        if fitted.dropped_turns and self.overflow_policy == "summarize":
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
        """Search the knowledge bases in use for ``question``; its passages go with it.

        Only the newest question carries passages: older ones are sent bare, so a
        long chat does not pay for every earlier search again.
        """
        if self.retriever is None:
            self._reply_sources = ()
            return None
        for message in self.conversation.messages:
            if message.references is not None:
                message.references = None
                message.token_cache = None
        budget = self.budget.prompt_tokens
        share = int(budget * self.retriever.share_for(self.persona))
        conversation = self.conversation
        fixed = self.counter.request_tokens(
            [conversation.system_message(), *conversation.summaries, question]
        )
        room = min(share, budget - fixed - _QUESTION_MARGIN)
        found = self.retriever.retrieve(question.content, persona=self.persona, max_tokens=room)
        if found is not None and found.searched:
            question.references = found
            question.token_cache = None
        self._reply_sources = found.sources if found is not None else ()
        return found

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
            backend=self.backend, counter=self.counter, on_usage=self._record_reported_usage
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
        self.dropped_turns = 0  # the summary now stands in for what was left out
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
        self.notify(f"summarising {fitted.dropped_turns} older turn(s) to keep them in context…")
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

    def retry(self, *, renderer: ReplyRenderer) -> TurnResult:
        """Regenerate the reply to the newest question (never from the cache)."""
        conversation = self.conversation
        index = conversation.last_user_index()
        if index is None or index < conversation.summarised_upto:
            raise ChatbotError("nothing to retry yet")
        # Fit first: if the question no longer fits (a smaller model since),
        # the old reply must still be there.
        question = conversation.messages[index]
        if question.references is None and self.retriever is not None:
            self._look_up(question)  # resumed: search again
        elif question.references is not None:
            self._reply_sources = question.references.sources
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
            result = self._answer_with_recovery(
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
        return self._answer_with_recovery(
            self.fit(), renderer=renderer, first_drop=False, use_cache=False
        )

    def _keep_tool_result(self, message: Message) -> None:
        self.conversation.append(message)
        self.journal.record(message, persona=self.persona, params=self.params)

    def _next_tool_number(self) -> int:
        """The number ``/tool N`` will know the next tool result by."""
        return len(numbered_results(self.conversation.messages)) + 1
