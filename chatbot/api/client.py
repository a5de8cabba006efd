"""Streaming chat completions over the openai SDK, with errors made domain-sized.

The SDK takes most of a second to import, so it is imported lazily: the REPL
shows its prompt first and calls :meth:`ChatClient.warm_up` to load it in the
background while the user types.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from chatbot.api.body import NotChatBody, decompressed, events_from_body
from chatbot.api.cancel import StreamCancelled
from chatbot.api.debuglog import DebugLog
from chatbot.api.error_kinds import refuses_tools, server_message
from chatbot.api.events import (
    ChatRequest,
    Finished,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from chatbot.api.translate import translate
from chatbot.errors import ApiError, ToolsUnsupported
from chatbot.i18n import _
from chatbot.secrets import Redactor, StreamScrubber, url_secrets

if TYPE_CHECKING:
    import httpx2
    import openai

__all__ = ["ChatClient"]


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
        debug: DebugLog | None = None,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self._max_retries = max_retries
        self.include_usage = include_usage
        self._redact = redact or Redactor([api_key, *url_secrets(base_url)])
        self._sdk_factory = sdk_factory
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
        return self._models_or_none() or []

    def _models_or_none(self) -> list[str] | None:
        """Model ids from ``/models``, or None when that does not answer a list."""
        try:
            page = self._client().with_options(max_retries=0, timeout=5).models.list()
            return sorted(model.id for model in page.data)
        except Exception:
            # Only a hint for an error message: any failure means "unknown".
            return None

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        """Yield the reply as it streams; raise :class:`ApiError` subclasses.

        Closing the generator (or Ctrl-C inside the loop that drives it)
        closes the HTTP response at once, so the server stops generating.
        """
        started = False
        chars = 0
        # A server that echoes the key back in its reply must not get it onto
        # the screen or into the store. Short placeholders ("not-needed") are
        # not secrets and would mangle ordinary words. Thinking and refusals are
        # shown and stored too: each kind of text gets a scrubber of its own.
        scrubbers: dict[type[Streamed], StreamScrubber] = (
            {kind: StreamScrubber(self._api_key) for kind in _STREAMED}
            if len(self._api_key) >= 20
            else {}
        )
        try:
            for event in self._stream_once(request):
                if isinstance(event, _STREAMED):
                    started = True
                    chars += len(event.text)
                    scrubber = scrubbers.get(type(event))
                    if scrubber is not None:
                        event = type(event)(scrubber.feed(event.text))
                        if not event.text:
                            continue
                elif isinstance(event, Finished | UsageReport):
                    yield from _release(scrubbers)
                    self._log("response", chars=chars, detail=repr(event))
                yield event
        except ApiError as exc:
            self._log("error", error=type(exc).__name__, message=str(exc), chars=chars)
            yield from _release(scrubbers)
            raise
        except Exception as exc:
            if request.cancel is not None and request.cancel.cancelled:
                # The failure is the abort itself: the user stopped the reply.
                self._log("cancelled", chars=chars)
                yield from _release(scrubbers)
                raise StreamCancelled from None
            error = translate(
                exc,
                request=request,
                started=started,
                base_url=self.base_url,
                timeout=self.timeout,
                redact=self._redact,
                list_models=self._models_or_none,
            )
            self._log(
                "error", error=type(error).__name__, message=str(error), cause=repr(exc)[:500]
            )
            yield from _release(scrubbers)
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
        if request.tools:
            # Raw JSON as well, for the same reason as the messages.
            kwargs["extra_body"]["tools"] = list(request.tools)
        if request.extra_body:
            kwargs["extra_body"] = {**request.extra_body, **kwargs["extra_body"]}
        if self.include_usage:
            kwargs["stream_options"] = {"include_usage": True}
        if request.cancel is not None:
            request.cancel.raise_if_cancelled()
        try:
            response = client.chat.completions.create(stream=True, **kwargs)
        except openai.APIStatusError as exc:
            if request.tools and refuses_tools(exc):
                raise ToolsUnsupported(
                    _("{url} does not take tools for {model} ({detail})").format(
                        url=self._redact(self.base_url),
                        model=request.model,
                        detail=self._redact(server_message(exc)) or exc.status_code,
                    )
                ) from None
            if (
                not isinstance(exc, openai.BadRequestError)
                or not self.include_usage
                or "stream_options" not in str(exc)
            ):
                raise
            # Some servers reject stream_options: remember, and ask again without.
            self.include_usage = False
            kwargs.pop("stream_options")
            response = client.chat.completions.create(stream=True, **kwargs)
        with response as chunks:
            # The body is read here, not by the SDK: its decoder drops llama.cpp's
            # "error:" lines and trusts the label, so a web page or a JSON error
            # sent with status 200 would look like an empty, finished reply.
            http = chunks.response
            # Stopped while the headers were on their way: this closes it at once.
            forget = (
                request.cancel.on_cancel(lambda: _abort(http))
                if request.cancel is not None
                else None
            )
            self._log(
                "response-head",
                url=str(http.url),
                redirects=[str(r.url) for r in http.history],
                content_type=http.headers.get("content-type", ""),
            )
            try:
                yield from events_from_body(_body_bytes(http))
            except NotChatBody as exc:
                if http.history:
                    exc.redirected_to = str(http.url)
                raise
            finally:
                if forget is not None:
                    forget()


#: The events that carry text a person reads (and that the key must never be in).
Streamed = TextDelta | ReasoningDelta | RefusalDelta
_STREAMED = (ReasoningDelta, TextDelta, RefusalDelta)


def _abort(response: httpx2.Response) -> None:
    """Close ``response`` from another thread, waking a read blocked on a silent server.

    Closing alone leaves a blocked ``recv`` waiting for the next byte; shutting the
    socket down ends it at once, and the server sees the client leave.
    """
    import socket

    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    response.close()


def _body_bytes(response: httpx2.Response) -> Iterator[bytes]:
    """The body as it arrives, with transport failures as the SDK's own errors.

    A body labelled gzip or deflate is decompressed here, so one that is not
    compressed after all (a proxy relabelled it) is still read.
    """
    import httpx2
    import openai

    encoding = response.headers.get("content-encoding", "").strip().lower()
    try:
        if encoding in ("gzip", "x-gzip", "deflate"):
            yield from decompressed(response.iter_raw(), encoding)
        else:
            yield from response.iter_bytes()
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except httpx2.TransportError as exc:
        raise openai.APIConnectionError(request=response.request) from exc
    except httpx2.DecodingError as exc:
        raise NotChatBody("bad_encoding", f"{encoding or 'compressed'}: {exc}") from None


def _release(scrubbers: dict[type[Streamed], StreamScrubber]) -> Iterator[Streamed]:
    """Text the scrubbers held back in case it was the start of the key."""
    for kind, scrubber in scrubbers.items():
        if held := scrubber.flush():
            yield kind(held)
