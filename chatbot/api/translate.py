"""SDK and transport exceptions turned into the domain errors of :mod:`chatbot.errors`.

Each error's text names what went wrong and where, with the key redacted, so
the CLI edge can print it as the one line a user sees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chatbot.api.events import ChatRequest
from chatbot.errors import (
    ApiError,
    AuthenticationFailed,
    ContextLengthExceeded,
    ImagesRejected,
    ModelNotFound,
    RateLimited,
    ReplyTimedOut,
    ServerError,
    ServerUnreachable,
    StreamDropped,
)
from chatbot.secrets import Redactor

__all__ = ["translate"]


def translate(
    exc: Exception,
    *,
    request: ChatRequest,
    started: bool,
    base_url: str,
    timeout: float,
    redact: Redactor,
    list_models: Callable[[], list[str]],
) -> ApiError:
    """The domain error for an SDK or transport exception; its text is safe to show."""
    import openai

    where = base_url
    detail = redact(_server_message(exc))
    if isinstance(exc, openai.APITimeoutError):
        if started:
            return StreamDropped(f"the reply stalled for over {timeout:g}s and was cut")
        return ReplyTimedOut(f"no answer from {where} within {timeout:g}s")
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
        available = tuple(list_models())
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
    images = _has_images(request)
    if images and isinstance(exc, openai.APIStatusError) and _is_about_images(exc, detail):
        return ImagesRejected(
            f"{request.model!r} at {where} does not take images"
            + (f" ({detail})" if detail else "")
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status >= 500:
            return ServerError(
                f"server error {status} from {where}" + (f": {detail}" if detail else ""),
                retry_after=_retry_after(exc.response.headers),
            )
        hint = "; the message has images, which the model may not take" if images else ""
        return ApiError(f"request refused ({status})" + (f": {detail}" if detail else "") + hint)
    if isinstance(exc, openai.APIError):
        # An SSE error event mid-stream, or a body the SDK could not parse.
        prefix = "the stream failed" if started else "the server reported an error"
        return ServerError(f"{prefix}: {detail or 'no details given'}")
    if isinstance(exc, UnicodeDecodeError | ValueError):
        return StreamDropped(f"the server sent a malformed reply ({exc.__class__.__name__})")
    return ApiError(f"unexpected failure talking to {where}: {exc.__class__.__name__}")


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


def _has_images(request: ChatRequest) -> bool:
    """True when some message carries an ``image_url`` part."""
    for message in request.messages:
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") == "image_url" for part in content
        ):
            return True
    return False


#: Words servers use when they refuse images: OpenAI ("image_url is only supported
#: by certain models"), vLLM ("not a multimodal model"), llama.cpp ("image input is
#: not supported", "mmproj"), Ollama ("does not support images"), LM Studio ("vision").
_IMAGE_WORDS = ("image", "vision", "multimodal", "multi-modal", "mmproj")


def _is_about_images(exc: Exception, detail: str) -> bool:
    status = getattr(exc, "status_code", 0)
    if status in (401, 403, 404, 429):
        return False
    text = f"{detail} {exc}".lower()
    return any(word in text for word in _IMAGE_WORDS)


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
