"""One conversation with one server: the turn loop shared by the REPL and one-shot mode.

It owns the conversation state, applies the persona, fits the history to the
token budget, streams the reply into a renderer and records every message in
the journal as soon as it exists. It never prints: callers show notices from
the :class:`TurnResult` and the one-line text of any :class:`ChatbotError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from chatbot.api.events import (
    ChatBackend,
    ChatRequest,
    Finished,
    ReasoningDelta,
    TextDelta,
    UsageReport,
)
from chatbot.api.thinking import separate_thinking
from chatbot.conversation.attachments import Attachment
from chatbot.conversation.compaction import Compactor, summary_message
from chatbot.conversation.history import Budget, Conversation, FittedRequest, fit_to_budget
from chatbot.conversation.journal import Journal, NullJournal
from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.conversation.outcome import reply_status
from chatbot.conversation.retry import RetryPolicy, RetryWait, Waiter, sleeping_waiter
from chatbot.conversation.thinking import think_sink, thinking_tokens
from chatbot.conversation.tokens import TokenCounter
from chatbot.conversation.usage import ContextFill, SessionUsage
from chatbot.errors import (
    ApiError,
    ChatbotError,
    CompactionFailed,
    ContextLengthExceeded,
    MessageTooLarge,
)
from chatbot.render import ReplyRenderer
from chatbot.settings.config import Config, ModelParams
from chatbot.settings.personas import Persona
from chatbot.text import clean_text

__all__ = ["ChatSession", "ReplyCache", "TurnResult"]


class ReplyCache(Protocol):
    """Remembers complete replies to identical requests (opt-in)."""

    def lookup(self, request: ChatRequest, *, persona: str) -> str | None: ...

    def remember(self, request: ChatRequest, *, persona: str, reply: str) -> None: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class TurnResult:
    """What happened in one exchange, for the caller to show."""

    reply: Message
    #: Turns left out of this request to fit the budget.
    dropped_turns: int
    #: True the first time turns are dropped in this conversation: tell the user.
    first_drop: bool
    usage: UsageReport | None
    #: Turns summarised (overflow policy "summarize") before this request.
    compacted_turns: int = 0
    #: Set when summarising failed and old turns were dropped instead.
    compaction_note: str | None = None


class ChatSession:
    """A conversation bound to a server, a persona and a journal."""

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
    ) -> None:
        self.config = config
        self.cache = cache
        self.retry_policy = retry_policy or RetryPolicy(attempts=0)
        self.waiter = waiter
        #: Shows a short notice while something slow happens (summarising).
        self.notify = notify or (lambda _text: None)
        self.backend = backend
        self.counter = counter or TokenCounter()
        self.journal: Journal = journal or NullJournal()
        self.persona = persona
        self.usage = SessionUsage()
        self.clear()

    # -- settings --------------------------------------------------------

    @property
    def params(self) -> ModelParams:
        return self.config.params_for(self.persona)

    @property
    def budget(self) -> Budget:
        params = self.params
        return Budget.for_window(params.context_window, max_tokens=params.max_tokens)

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

    def clear(self) -> None:
        """Start a new conversation with the same persona and model."""
        self.conversation = Conversation(system_prompt=self.persona.system)
        self.dropped_turns = 0
        self._told_about_drop = False
        self.journal.start_conversation(
            persona=self.persona, system_prompt=self.persona.system, model=self.params.model
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

    # -- turns -----------------------------------------------------------

    def fit(
        self, history: Sequence[Message] | None = None, *, max_prompt_tokens: int | None = None
    ) -> FittedRequest:
        """The request the next send would make, trimmed to the budget (or tighter)."""
        conversation = self.conversation
        budget = self.budget
        if max_prompt_tokens is not None and max_prompt_tokens < budget.prompt_tokens:
            budget = Budget(
                context_window=max_prompt_tokens + budget.reserved_for_reply,
                reserved_for_reply=budget.reserved_for_reply,
            )
        return fit_to_budget(
            system=conversation.system_message(),
            pinned=conversation.summaries,
            history=conversation.live_history if history is None else history,
            counter=self.counter,
            budget=budget,
        )

    @property
    def overflow_policy(self) -> str:
        return self.config.overflow or self.persona.overflow or "drop"

    def send(
        self, text: str, *, renderer: ReplyRenderer, attachments: Sequence[Attachment] = ()
    ) -> TurnResult:
        """Ask ``text``, with ``attachments``, and stream the answer into ``renderer``.

        Raises MessageTooLarge (nothing sent or recorded) or an ApiError (the
        question is kept, so /retry can ask it again).
        """
        question = Message(role=Role.USER, content=clean_text(text), attachments=tuple(attachments))
        # Fit before recording, so a message too large leaves no trace but the
        # input history, where the user can recall it.
        fitted = self.fit([*self.conversation.live_history, question])
        compacted, note = 0, None
        if fitted.dropped_turns and self.overflow_policy == "summarize":
            fitted, compacted, note = self._summarize_overflow(fitted, question)
        self.conversation.append(question)
        self.journal.record(question, persona=self.persona, params=self.params)
        result = self._answer(fitted, renderer=renderer)
        if compacted or note:
            result = replace(result, compacted_turns=compacted, compaction_note=note)
        return result

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
            return self._answer_with_recovery(
                fitted, renderer=renderer, first_drop=first_drop, use_cache=use_cache
            )
        finally:
            renderer.finish()

    def _answer_with_recovery(
        self, fitted: FittedRequest, *, renderer: ReplyRenderer, first_drop: bool, use_cache: bool
    ) -> TurnResult:
        """Stream a reply, retrying visibly on rate limits and server errors.

        Nothing is retried once text has been shown. A context-length error
        from the server means our count was too low: trim harder, once.
        """
        retries = 0
        trimmed = False
        while True:
            self.dropped_turns = fitted.dropped_turns
            request = self._request(fitted)
            if use_cache and self._cache_enabled and self.cache is not None:
                cached = self.cache.lookup(request, persona=self.persona.name)
                if cached and cached.strip():  # an empty answer is none, even from an old cache
                    return self._from_cache(
                        cached, fitted, renderer=renderer, first_drop=first_drop
                    )
            try:
                reply, usage = self._stream(request, renderer=renderer)
            except ContextLengthExceeded as exc:
                if exc.partial_reply_kept or trimmed:
                    raise
                fitted = self._trim_harder(fitted, exc)
                trimmed = True
                continue
            except ApiError as exc:
                retries += 1
                delay = None
                if exc.retryable and not exc.partial_reply_kept:
                    delay = self.retry_policy.delay(retries, retry_after=exc.retry_after)
                if delay is None:
                    raise
                self._wait(delay, retries, exc)
                continue
            break
        self._account(fitted, usage, reply)
        if self._cache_enabled and self.cache is not None and reply.status is ReplyStatus.COMPLETE:
            self.cache.remember(request, persona=self.persona.name, reply=reply.content)
        return TurnResult(
            reply=reply, dropped_turns=fitted.dropped_turns, first_drop=first_drop, usage=usage
        )

    def _request(self, fitted: FittedRequest) -> ChatRequest:
        params = self.params
        return ChatRequest(
            model=params.model,
            # An empty reply (cut before any text, tool calls only) is kept to
            # record what happened, but is no answer to send back.
            messages=[
                m.to_api()
                for m in fitted.messages
                if m.role is not Role.ASSISTANT or m.content.strip()
            ],
            temperature=params.temperature,
            top_p=params.top_p,
            # Never ask for more than the room the budget kept for the reply.
            max_tokens=(
                min(params.max_tokens, self.budget.reserved_for_reply)
                if params.max_tokens
                else None
            ),
            stop=params.stop,
        )

    def _stream(
        self, request: ChatRequest, *, renderer: ReplyRenderer
    ) -> tuple[Message, UsageReport | None]:
        """One attempt: stream into the renderer, keep what arrived."""
        reply = Message(role=Role.ASSISTANT, content="")
        parts: list[str] = []
        # Thinking, in whichever form it came, is kept apart and never sent back.
        thoughts: list[str] = []
        think = think_sink(renderer)
        usage: UsageReport | None = None
        finished = Finished(None)  # a stream that just stops never said it was finished
        try:
            for event in separate_thinking(self.backend.stream(request)):
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                    renderer.feed(event.text)
                elif isinstance(event, ReasoningDelta):
                    thoughts.append(event.text)
                    think(event.text)
                elif isinstance(event, UsageReport):
                    usage = event
                elif isinstance(event, Finished):
                    finished = event
        except KeyboardInterrupt:
            reply.status = ReplyStatus.INTERRUPTED
        except ApiError as exc:
            reply.thinking = "".join(thoughts).rstrip()
            if parts or thoughts:
                reply.content = "".join(parts)
                reply.status = ReplyStatus.FAILED
                self._keep(reply, usage)
                raise exc.with_partial_reply_kept() from exc
            raise
        reply.content = "".join(parts)
        reply.thinking = "".join(thoughts).rstrip()
        if reply.status is ReplyStatus.COMPLETE:
            reply.status = reply_status(
                finished.reason, has_text=bool(reply.content.strip()), tools=finished.tools
            )
            reply.tool_names = finished.tools
            if reply.status is not ReplyStatus.COMPLETE:
                reply.finish_reason = finished.reason
        if reply.content or reply.thinking or reply.status is not ReplyStatus.INTERRUPTED:
            self._keep(reply, usage)
        return reply, usage

    def _trim_harder(self, fitted: FittedRequest, error: ContextLengthExceeded) -> FittedRequest:
        """Refit to 70% of what the server refused; explain if even that cannot work."""
        # Our estimate undercounted this model's tokens: learn from it for later turns too.
        self.counter.calibrate(
            fitted.messages, reported_prompt_tokens=int(fitted.estimated_tokens / 0.7)
        )
        try:
            # Counts are now in the calibrated (larger) units: the same number
            # of them is ~70% of what the server refused.
            return self.fit(max_prompt_tokens=fitted.estimated_tokens)
        except MessageTooLarge:
            raise ContextLengthExceeded(
                f"{error} — even the newest message alone is too long for this model; "
                "shorten it, or set --context-window to the model's real size"
            ) from None

    def _wait(self, seconds: float, retry_number: int, error: ApiError) -> None:
        wait = RetryWait(
            seconds=seconds,
            attempt=retry_number,
            attempts=self.retry_policy.attempts,
            reason=str(error),
        )
        try:
            self.waiter(wait)
        except KeyboardInterrupt:
            raise type(error)(f"{error} (retry cancelled)") from None

    @property
    def _cache_enabled(self) -> bool:
        return self.config.cache or self.persona.cache

    def _from_cache(
        self, text: str, fitted: FittedRequest, *, renderer: ReplyRenderer, first_drop: bool
    ) -> TurnResult:
        renderer.feed(text)
        reply = Message(role=Role.ASSISTANT, content=text, status=ReplyStatus.CACHED)
        self._keep(reply, None)
        self.usage.last_prompt_tokens = fitted.estimated_tokens
        self.usage.last_prompt_exact = False
        return TurnResult(
            reply=reply, dropped_turns=fitted.dropped_turns, first_drop=first_drop, usage=None
        )

    def _keep(self, reply: Message, usage: UsageReport | None) -> None:
        if usage is not None and reply.thinking:
            reply.thinking_tokens = usage.reasoning_tokens
        self.conversation.append(reply)
        self.journal.record(
            reply,
            persona=self.persona,
            params=self.params,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    def _record_reported_usage(self, model: str, usage: UsageReport) -> None:
        """Tokens the server says a request used: this session's and the store's totals."""
        self.journal.record_usage(
            model=model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
        self.usage.add(model=model, prompt=usage.prompt_tokens, completion=usage.completion_tokens)

    def _account(
        self, fitted: FittedRequest, usage: UsageReport | None, reply: Message | None = None
    ) -> None:
        params = self.params
        self.usage.requests += 1
        if usage is not None and usage.prompt_tokens > 0:
            self.counter.calibrate(fitted.messages, reported_prompt_tokens=usage.prompt_tokens)
            self.usage.last_prompt_tokens = usage.prompt_tokens
            self.usage.last_prompt_exact = True
            self._record_reported_usage(params.model, usage)
        else:
            # Servers that report nothing (llama.cpp while streaming, some
            # proxies) still cost tokens: count our estimate, marked as such.
            self.usage.last_prompt_tokens = fitted.estimated_tokens
            self.usage.last_prompt_exact = False
            self.usage.estimated_requests += 1
            completion = self.counter.text_tokens(reply.content) if reply is not None else 0
            if reply is not None and reply.thinking:
                completion += thinking_tokens(reply, self.counter)[0]
            self.usage.add(
                model=params.model, prompt=fitted.estimated_tokens, completion=completion
            )
        if reply is not None and reply.thinking:
            tokens, exact = thinking_tokens(reply, self.counter)
            self.usage.add_thinking(tokens, exact=exact)
