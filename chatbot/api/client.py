"""Streaming chat completions over the openai SDK, with errors made domain-sized.

The SDK takes most of a second to import, so it is imported lazily: the REPL
shows its prompt first and calls :meth:`ChatClient.warm_up` to load it in the
background while the user types.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatbot.api.debuglog import DebugLog
from chatbot.errors import (
    ApiError,
    AuthenticationFailed,
    ContextLengthExceeded,
    ModelNotFound,
    RateLimited,
    ReplyTimedOut,
    ServerError,
    ServerUnreachable,
    StreamDropped,
)
from chatbot.secrets import Redactor, StreamScrubber
from chatbot.text import clean_text

if TYPE_CHECKING:
    import openai

__all__ = [
    "ChatClient",
    "ChatRequest",
    "Finished",
    "ReasoningDelta",
    "StreamEvent",
    "TextDelta",
    "UsageReport",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class ChatRequest:
    model: str
    messages: Sequence[Mapping[str, str]]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Finished:
    #: "stop", "length", "content_filter", ... or None when the server never said.
    reason: str | None


StreamEvent = TextDelta | ReasoningDelta | UsageReport | Finished


class ChatClient:
    """One server, one key: streams replies and lists models."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        max_retries: int = 2,
        include_usage: bool = True,
        redact: Redactor | None = None,
        sdk_factory: Callable[[], openai.OpenAI] | None = None,
        prepare: Callable[[], str] | None = None,
        debug: DebugLog | None = None,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self._max_retries = max_retries
        self.include_usage = include_usage
        self._redact = redact or Redactor([api_key])
        self._sdk_factory = sdk_factory
        #: Waits for a server that is still starting and returns its base URL.
        self._prepare = prepare
        self._debug = debug
        self._sdk: openai.OpenAI | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Import and build the SDK client in a background thread."""

        def build() -> None:
            try:
                self._client()
            except Exception:
                # The first real request builds it again and reports the failure.
                return

        threading.Thread(target=build, name="openai-warm-up", daemon=True).start()

    def _client(self) -> openai.OpenAI:
        with self._lock:
            if self._sdk is None:
                if self._prepare is not None:
                    self.base_url = self._prepare()
                if self._sdk_factory is not None:
                    self._sdk = self._sdk_factory()
                else:
                    import openai

                    self._sdk = openai.OpenAI(
                        api_key=self._api_key,
                        base_url=self.base_url,
                        timeout=self.timeout,
                        max_retries=self._max_retries,
                    )
            return self._sdk

    def close(self) -> None:
        # Do not wait for a warm-up still importing the SDK: the process is
        # leaving, and that import can take most of a second.
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._sdk is not None:
                self._sdk.close()
                self._sdk = None
        finally:
            self._lock.release()

    def list_models(self) -> list[str]:
        """Model ids the server offers; empty when it will not say."""
        try:
            page = self._client().with_options(max_retries=0, timeout=5).models.list()
            return sorted(model.id for model in page.data)
        except Exception:
            # Only a hint for an error message: any failure means "unknown".
            return []

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        """Yield the reply as it streams; raise :class:`ApiError` subclasses.

        Closing the generator (or Ctrl-C inside the loop that drives it)
        closes the HTTP response at once, so the server stops generating.
        """
        started = False
        chars = 0
        # A server that echoes the key back in its reply must not get it onto
        # the screen or into the store. Short placeholders ("not-needed") are
        # not secrets and would mangle ordinary words.
        scrubber = StreamScrubber(self._api_key) if len(self._api_key) >= 20 else None
        try:
            for event in self._stream_once(request):
                if isinstance(event, TextDelta | ReasoningDelta):
                    started = True
                    chars += len(event.text)
                    if scrubber is not None and isinstance(event, TextDelta):
                        event = TextDelta(scrubber.feed(event.text))
                        if not event.text:
                            continue
                elif isinstance(event, Finished | UsageReport):
                    yield from _release(scrubber)
                    self._log("response", chars=chars, detail=repr(event))
                yield event
        except ApiError as exc:
            self._log("error", error=type(exc).__name__, message=str(exc), chars=chars)
            yield from _release(scrubber)
            raise
        except Exception as exc:
            error = self._translate(exc, request=request, started=started)
            self._log(
                "error", error=type(error).__name__, message=str(error), cause=repr(exc)[:500]
            )
            yield from _release(scrubber)
            raise error from None
        except BaseException:
            self._log("cancelled", chars=chars)
            raise

    def _log(self, kind: str, **fields: object) -> None:
        if self._debug is not None:
            self._debug.event(kind, **fields)

    def _stream_once(self, request: ChatRequest) -> Iterator[StreamEvent]:
        import openai

        client = self._client()
        # Logged after _client(): a local server's URL is known only once it is up.
        self._log(
            "request",
            url=self.base_url,
            model=request.model,
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
            messages=list(request.messages),
        )
        kwargs: dict[str, Any] = {
            "model": request.model,
            # The SDK validates and transforms every message of `messages`,
            # which costs ~0.4 ms per message on each request: a long chat would
            # get slower turn by turn. Our messages are already plain JSON, so
            # they go in the raw body, which the SDK merges over `messages`.
            "messages": [],
            "extra_body": {"messages": list(request.messages)},
        }
        for name in ("temperature", "top_p", "max_tokens"):
            value = getattr(request, name)
            if value is not None:
                kwargs[name] = value
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if self.include_usage:
            kwargs["stream_options"] = {"include_usage": True}
        try:
            response = client.chat.completions.create(stream=True, **kwargs)
        except openai.BadRequestError as exc:
            if not self.include_usage or "stream_options" not in str(exc):
                raise
            # Some servers reject stream_options: remember, and ask again without.
            self.include_usage = False
            kwargs.pop("stream_options")
            response = client.chat.completions.create(stream=True, **kwargs)
        with response as chunks:
            content_type = chunks.response.headers.get("content-type", "")
            if "json" in content_type and "event-stream" not in content_type:
                # A server that ignores stream=True answers one JSON completion;
                # the SDK would see no SSE events in it and yield nothing.
                chunks.response.read()
                yield from _events_from_completion(chunks.response.json())
                return
            yield from _events_from_chunks(chunks)

    def _translate(self, exc: Exception, *, request: ChatRequest, started: bool) -> ApiError:
        import openai

        where = self.base_url
        detail = self._redact(_server_message(exc))
        if isinstance(exc, openai.APITimeoutError):
            if started:
                return StreamDropped(f"the reply stalled for over {self.timeout:g}s and was cut")
            return ReplyTimedOut(f"no answer from {where} within {self.timeout:g}s")
        if isinstance(exc, openai.APIConnectionError):
            if started:
                return StreamDropped(f"the connection to {where} dropped mid-reply")
            return ServerUnreachable(f"cannot reach {where} ({_connection_reason(exc)})")
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return AuthenticationFailed(
                f"the server rejected the API key ({exc.status_code}): check OPENAI_API_KEY"
                + (f" ({detail})" if detail else "")
            )
        if isinstance(exc, openai.NotFoundError):
            available = tuple(self.list_models())
            listing = ""
            if available:
                shown = ", ".join(available[:20]) + (", …" if len(available) > 20 else "")
                listing = f" (available: {shown}; switch with /model NAME or --model)"
            return ModelNotFound(
                f"model {request.model!r} not found at {where}{listing}", available=available
            )
        if isinstance(exc, openai.RateLimitError):
            retry_after = _retry_after(exc.response.headers)
            wait = f"; the server asks to wait {retry_after:g}s" if retry_after else ""
            return RateLimited(
                f"rate limited by {where}{wait}" + (f" ({detail})" if detail else ""),
                retry_after=retry_after,
            )
        if isinstance(exc, openai.BadRequestError) and _is_context_length(exc):
            return ContextLengthExceeded(
                "the server says the conversation is longer than the model's context"
                + (f" ({detail})" if detail else "")
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status >= 500:
                return ServerError(
                    f"server error {status} from {where}" + (f": {detail}" if detail else ""),
                    retry_after=_retry_after(exc.response.headers),
                )
            return ApiError(f"request refused ({status})" + (f": {detail}" if detail else ""))
        if isinstance(exc, openai.APIError):
            # An SSE error event mid-stream, or a body the SDK could not parse.
            prefix = "the stream failed" if started else "the server reported an error"
            return ServerError(f"{prefix}: {detail or 'no details given'}")
        if isinstance(exc, UnicodeDecodeError | ValueError):
            return StreamDropped(f"the server sent a malformed reply ({exc.__class__.__name__})")
        return ApiError(f"unexpected failure talking to {where}: {exc.__class__.__name__}")


def _release(scrubber: StreamScrubber | None) -> Iterator[TextDelta]:
    """Text the scrubber held back in case it was the start of the key."""
    if scrubber is not None and (held := scrubber.flush()):
        yield TextDelta(held)


def _events_from_chunks(chunks: Any) -> Iterator[StreamEvent]:
    finish: str | None = None
    for chunk in chunks:
        usage = getattr(chunk, "usage", None)
        for choice in chunk.choices or ():
            delta = choice.delta
            if delta is not None:
                # Read the content before acting on finish_reason: some servers
                # put the last words and the finish on the same chunk.
                extra = delta.model_extra or {}
                reasoning = extra.get("reasoning_content") or extra.get("reasoning")
                if isinstance(reasoning, str) and reasoning:
                    yield ReasoningDelta(clean_text(reasoning))
                if delta.content:
                    yield TextDelta(clean_text(delta.content))
            if choice.finish_reason:
                finish = choice.finish_reason
        if usage is not None:
            yield UsageReport(
                prompt_tokens=usage.prompt_tokens or 0,
                completion_tokens=usage.completion_tokens or 0,
            )
    yield Finished(finish)


def _events_from_completion(completion: object) -> Iterator[StreamEvent]:
    """Events from a non-streamed ``chat.completion`` JSON body."""
    body = completion if isinstance(completion, dict) else {}
    finish: str | None = None
    for choice in body.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and content:
            yield TextDelta(clean_text(content))
        reason = choice.get("finish_reason")
        finish = reason if isinstance(reason, str) else finish
    usage = body.get("usage")
    if isinstance(usage, dict):
        yield UsageReport(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )
    yield Finished(finish)


def _server_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    message: object = None
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message.strip():
        message = getattr(exc, "message", None)
    if not isinstance(message, str):
        return ""
    first_line = " ".join(message.split())
    return first_line[:300]


def _is_context_length(exc: Exception) -> bool:
    body = getattr(exc, "body", None)
    code = body.get("code") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code", code)
    if code == "context_length_exceeded":
        return True
    text = str(exc).lower()
    return any(
        phrase in text
        for phrase in ("context length", "context_length", "maximum context", "too many tokens")
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("retry-after-ms")
    if raw:
        try:
            return max(0.0, float(raw) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            return None
    return None


def _connection_reason(exc: Exception) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        text = str(cause).lower()
        if "refused" in text:
            return "connection refused"
        if any(
            phrase in text
            for phrase in (
                "name or service not known",
                "nodename",
                "getaddrinfo",
                "name resolution",
                "no address associated",
            )
        ):
            return "the host name does not resolve"
        if "ssl" in text or "certificate" in text:
            return "TLS/certificate problem"
        cause = cause.__cause__ or cause.__context__
    return "network error"
