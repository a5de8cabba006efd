"""One request, answered: the turn runner inside every ChatSession.

It fits the history to the budget, builds the request, streams the reply into a
renderer with visible retries, keeps what arrived and counts what it cost. The
session owns the conversation-level verbs (send, retry, undo, compact) and shares
its :class:`~chatbot.conversation.state.SessionState` with the runner.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from chatbot.api.cancel import Cancellation
from chatbot.api.events import (
    ChatBackend,
    ChatRequest,
    UsageReport,
)
from chatbot.api.reasoning import OpenedThinking, separate_thinking
from chatbot.conversation.alternation import alternating
from chatbot.conversation.history import Budget, FittedRequest
from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.conversation.reply_assembly import ReplyAssembly
from chatbot.conversation.retry import RetryPolicy, RetryWait, Waiter, sleeping_waiter
from chatbot.conversation.state import SessionState
from chatbot.conversation.thought_tokens import thinking_tokens
from chatbot.conversation.token_counter import TokenCounter
from chatbot.conversation.tool_history import fit_history
from chatbot.conversation.tool_turns import ToolHost
from chatbot.conversation.turn_result import TurnResult
from chatbot.conversation.usage import SessionUsage
from chatbot.errors import (
    ApiError,
    ContextLengthExceeded,
    MessageTooLarge,
    ToolsUnsupported,
)
from chatbot.render import ReplyRenderer

__all__ = ["ReplyCache", "TurnRunner"]


class ReplyCache(Protocol):
    """Remembers complete replies to identical requests (opt-in)."""

    def lookup(self, request: ChatRequest, *, persona: str) -> str | None: ...

    def remember(self, request: ChatRequest, *, persona: str, reply: str) -> None: ...


class TurnRunner:
    """Answers one fitted request: cache, stream with visible retries, keep, account."""

    def __init__(
        self,
        *,
        state: SessionState,
        backend: ChatBackend,
        counter: TokenCounter,
        usage: SessionUsage,
        cache: ReplyCache | None = None,
        retry_policy: RetryPolicy | None = None,
        waiter: Waiter = sleeping_waiter,
        tools: ToolHost | None = None,
        opened_thinking: OpenedThinking | None = None,
    ) -> None:
        self.state = state
        self.backend = backend
        self.counter = counter
        self.usage = usage
        self.cache = cache
        self.retry_policy = retry_policy or RetryPolicy(attempts=0)
        self.waiter = waiter
        #: The tools the model may call; None offers none.
        self.tools = tools
        self._tool_tokens: tuple[tuple[int, float], int] = ((0, 0.0), 0)
        #: Models whose template opens ``<think>`` in the prompt (a lone ``</think>`` seen).
        self.opened_thinking = opened_thinking or OpenedThinking()
        #: Turns left out of the newest request to fit the budget.
        self.dropped_turns = 0
        #: The turn in flight's switch, which another thread may flip (the web's Stop).
        self.cancel: Cancellation | None = None

    def fit(
        self, history: Sequence[Message] | None = None, *, max_prompt_tokens: int | None = None
    ) -> FittedRequest:
        """The request the next send would make, trimmed to the budget (or tighter)."""
        state = self.state
        conversation = state.conversation
        budget = state.budget
        if max_prompt_tokens is not None and max_prompt_tokens < budget.prompt_tokens:
            budget = Budget(
                context_window=max_prompt_tokens + budget.reserved_for_reply,
                reserved_for_reply=budget.reserved_for_reply,
            )
        offered = self.offered_tools()
        if offered:
            # The tools' schemas are part of the prompt: they take room too.
            key = (id(offered), self.counter.factor)
            if self._tool_tokens[0] != key:
                self._tool_tokens = (key, self.counter.text_tokens(json.dumps(offered)))
            spent = self._tool_tokens[1]
            budget = replace(budget, context_window=max(1, budget.context_window - spent))
        return fit_history(
            system=conversation.system_message(),
            pinned=conversation.summaries,
            history=conversation.live_history if history is None else history,
            counter=self.counter,
            budget=budget,
        )

    def offered_tools(self) -> list[dict[str, Any]] | None:
        if self.tools is None:
            return None
        return self.tools.offered(model=self.state.params.model, persona=self.state.persona)

    def answer(
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
            # A cached text answer cannot stand in for a reply that may call tools.
            if use_cache and self._cache_enabled and self.cache is not None and not request.tools:
                cached = self.cache.lookup(request, persona=self.state.persona.name)
                if cached and cached.strip():  # an empty answer is none, even from an old cache
                    return self._from_cache(
                        cached, fitted, renderer=renderer, first_drop=first_drop
                    )
            try:
                reply, usage = self._stream(request, renderer=renderer)
            except ToolsUnsupported as exc:
                if self.tools is None or not request.tools:
                    raise
                # Said once; the host stops offering tools to this server and model.
                self.tools.refused(model=request.model, reason=str(exc))
                continue
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
                    given_up = self.retry_policy.giving_up(exc)
                    if given_up is exc:
                        raise
                    raise given_up from None
                self._wait(delay, retries, exc)
                continue
            break
        self._account(fitted, usage, reply)
        if (
            self._cache_enabled
            and self.cache is not None
            and reply.status is ReplyStatus.COMPLETE
            and not reply.replaced_bytes
            and not request.tools
        ):
            self.cache.remember(request, persona=self.state.persona.name, reply=reply.content)
        return TurnResult(
            reply=reply, dropped_turns=fitted.dropped_turns, first_drop=first_drop, usage=usage
        )

    def _request(self, fitted: FittedRequest) -> ChatRequest:
        params = self.state.params
        return ChatRequest(
            model=params.model,
            # An empty reply (cut before any text, tools we did not offer) is kept
            # to record what happened, but is no answer to send back. Calls to
            # tools we offered are, with their results after them. The question
            # it leaves unanswered is merged with the next one, so roles alternate.
            messages=alternating(
                m.to_api()
                for m in fitted.messages
                if m.role is not Role.ASSISTANT or m.content.strip() or m.tool_calls
            ),
            temperature=params.temperature,
            top_p=params.top_p,
            # Never ask for more than the room the budget kept for the reply.
            max_tokens=(
                min(params.max_tokens, self.state.budget.reserved_for_reply)
                if params.max_tokens
                else None
            ),
            stop=params.stop,
            tools=self.offered_tools(),
            cancel=self.cancel,
        )

    def _stream(
        self, request: ChatRequest, *, renderer: ReplyRenderer
    ) -> tuple[Message, UsageReport | None]:
        """One attempt: stream into the renderer, keep what arrived."""
        reply = Message(role=Role.ASSISTANT, content="")
        assembly = ReplyAssembly(
            renderer=renderer,
            opened=self.opened_thinking,
            model=request.model,
        )
        try:
            opened = request.model in self.opened_thinking
            for event in separate_thinking(self.backend.stream(request), opened=opened):
                assembly.take(event)
        except KeyboardInterrupt:
            reply.status = ReplyStatus.INTERRUPTED
        except ApiError as exc:
            reply.thinking = assembly.thinking
            if assembly.parts or assembly.thoughts:
                reply.content = "".join(assembly.parts)
                reply.status = ReplyStatus.FAILED
                self._keep(reply, assembly.usage)
                raise exc.with_partial_reply_kept() from exc
            raise
        assembly.settle(reply, tools_offered=bool(request.tools))
        usage = assembly.usage
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
        return self.state.config.cache or self.state.persona.cache

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
        if reply.content and not reply.sources:
            reply.sources = self.state.reply_sources
        self.state.conversation.append(reply)
        self.state.journal.record(
            reply,
            persona=self.state.persona,
            params=self.state.params,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    def record_reported_usage(self, model: str, usage: UsageReport) -> None:
        """Tokens the server says a request used: this session's and the store's totals."""
        self.state.journal.record_usage(
            model=model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
        self.usage.add(model=model, prompt=usage.prompt_tokens, completion=usage.completion_tokens)

    def _account(
        self, fitted: FittedRequest, usage: UsageReport | None, reply: Message | None = None
    ) -> None:
        params = self.state.params
        self.usage.requests += 1
        if usage is not None and usage.prompt_tokens > 0:
            self.counter.calibrate(fitted.messages, reported_prompt_tokens=usage.prompt_tokens)
            self.usage.last_prompt_tokens = usage.prompt_tokens
            self.usage.last_prompt_exact = True
            self.record_reported_usage(params.model, usage)
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
