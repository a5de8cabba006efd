"""SDK and transport exceptions turned into the domain errors of :mod:`chatbot.errors`.

Each error's text names what went wrong and where, with the key redacted, so
the CLI edge can print it as the one line a user sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from chatbot.api.body import NotChatBody, page_title
from chatbot.api.error_kinds import (
    connection_reason,
    has_images,
    hung_up,
    is_about_images,
    is_context_length,
    is_context_length_text,
    needs_alternation,
    server_message,
    web_page,
)
from chatbot.api.events import ChatRequest
from chatbot.api.ratelimit import requested_wait
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
from chatbot.i18n import _
from chatbot.secrets import Redactor

__all__ = ["translate"]

_ENDPOINT = "/chat/completions"


def translate(
    exc: Exception,
    *,
    request: ChatRequest,
    started: bool,
    base_url: str,
    timeout: float,
    redact: Redactor,
    list_models: Callable[[], list[str] | None],
) -> ApiError:
    """The domain error for an SDK or transport exception; its text is safe to show.

    ``list_models`` answers None when the server's ``/models`` does not answer.
    """
    import openai

    where = redact(base_url)
    if isinstance(exc, NotChatBody):
        return _not_chat(exc, started=started, base_url=base_url, redact=redact)
    detail = redact(server_message(exc))
    if isinstance(exc, openai.APITimeoutError):
        if started:
            return StreamDropped(
                _("the reply stalled for over {timeout:g}s and was cut").format(timeout=timeout)
            )
        return ReplyTimedOut(
            _("no answer from {where} within {timeout:g}s").format(where=where, timeout=timeout)
        )
    if isinstance(exc, openai.APIConnectionError):
        if started:
            return StreamDropped(
                _("the connection to {where} dropped mid-reply").format(where=where)
            )
        if hung_up(exc):
            return ServerError(
                _(
                    "the server at {where} closed the connection without answering (it "
                    "took the request, then hung up)"
                ).format(where=where)
            )
        return ServerUnreachable(
            _("cannot reach {where} ({connection_reason})").format(
                where=where, connection_reason=connection_reason(exc)
            )
        )
    if isinstance(exc, openai.APIStatusError):
        misdirected = _misdirected(exc, base_url=base_url, redact=redact, detail=detail)
        if misdirected is not None:
            return misdirected
        page = _page_in_front(exc, where=where)
        if page is not None:
            return page
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return AuthenticationFailed(
            _with_detail(
                _("the server rejected the API key ({status}): check OPENAI_API_KEY").format(
                    status=exc.status_code
                ),
                detail,
            )
        )
    if isinstance(exc, openai.NotFoundError):
        return _not_found(
            exc, request=request, base_url=base_url, redact=redact, list_models=list_models
        )
    if isinstance(exc, openai.RateLimitError):
        wait = requested_wait(exc.response.headers)
        if wait is not None and wait.seconds:
            limited = _("rate limited by {where}; {wait}").format(where=where, wait=wait.said())
        else:
            limited = _("rate limited by {where}").format(where=where)
        return RateLimited(
            _with_detail(limited, detail),
            retry_after=wait.seconds if wait is not None else None,
        )
    if isinstance(exc, openai.BadRequestError) and is_context_length(exc):
        return ContextLengthExceeded(
            _with_detail(
                _("the server says the conversation is longer than the model's context"), detail
            )
        )
    if isinstance(exc, openai.BadRequestError) and needs_alternation(detail):
        return ApiError(
            _(
                "the server needs user and assistant messages to alternate and refused "
                "this conversation ({detail}); start a fresh one (/clear, or without "
                "-c) to go on"
            ).format(detail=detail)
        )
    images = has_images(request)
    if images and isinstance(exc, openai.APIStatusError) and is_about_images(exc, detail):
        return ImagesRejected(
            _with_detail(
                _("{model!r} at {where} does not take images").format(
                    model=request.model, where=where
                ),
                detail,
            )
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status >= 500:
            wait = requested_wait(exc.response.headers)
            error = _("server error {status} from {where}").format(status=status, where=where)
            return ServerError(
                _("{error}: {detail}").format(error=error, detail=detail) if detail else error,
                retry_after=wait.seconds if wait is not None else None,
            )
        refused = _("request refused ({status})").format(status=status)
        if detail:
            refused = _("{error}: {detail}").format(error=refused, detail=detail)
        if images:
            refused = _("{error}; the message has images, which the model may not take").format(
                error=refused
            )
        return ApiError(refused)
    if isinstance(exc, openai.APIError):
        # An SSE error event mid-stream, or a body the SDK could not parse.
        return ServerError(_reported(detail, started=started))
    if isinstance(exc, ValueError):
        if "JSON" in type(exc).__name__:
            malformed = _("the server sent a malformed reply (part of it is not valid JSON)")
        else:
            malformed = _("the server sent a malformed reply (part of it cannot be read)")
        return StreamDropped(malformed)
    return ApiError(
        _("unexpected failure talking to {where}: {name}").format(
            where=where, name=exc.__class__.__name__
        )
    )


def _reported(detail: str, *, started: bool) -> str:
    """An error the server sent instead of a reply (or in the middle of one)."""
    said = detail or _("no details given")
    if started:
        return _("the stream failed: {detail}").format(detail=said)
    return _("the server reported an error: {detail}").format(detail=said)


def _with_detail(message: str, detail: str) -> str:
    """``message``, then the server's own words in brackets when it gave any."""
    return _("{message} ({detail})").format(message=message, detail=detail) if detail else message


def _not_found(
    exc: Exception,
    *,
    request: ChatRequest,
    base_url: str,
    redact: Redactor,
    list_models: Callable[[], list[str] | None],
) -> ApiError:
    """A 404: a missing model only when the server says so or ``/models`` omits it.

    Otherwise the base URL is wrong (Ollama's "404 page not found", OpenAI's
    "Invalid URL (POST ...)"): show the server's words and the URL tried.
    """
    where = redact(base_url)
    models = list_models()
    if _names_the_model(exc, request.model) or (models is not None and request.model not in models):
        available = tuple(models or ())
        listing = ""
        if available:
            shown = ", ".join(available[:20]) + (", …" if len(available) > 20 else "")
            listing = _(" (available: {models}; switch with /model NAME or --model)").format(
                models=shown
            )
        return ModelNotFound(
            _("model {model!r} not found at {where}{listing}").format(
                model=request.model, where=where, listing=listing
            ),
            available=available,
        )
    detail = redact(server_message(exc)) or _("no details given")
    return ApiError(
        _("no chat API at {url}: the server answered 404 ({detail}); {hint}").format(
            url=where + _ENDPOINT, detail=detail, hint=_base_url_hint(base_url)
        )
    )


def _names_the_model(exc: Exception, model: str) -> bool:
    """True when a 404's own words say that this model is what is missing."""
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if code == "model_not_found":
        return True
    text = server_message(exc).lower()
    return (
        model.lower() in text
        and "model" in text
        and any(words in text for words in ("not found", "does not exist", "not exist"))
    )


def _misdirected(
    exc: Exception, *, base_url: str, redact: Redactor, detail: str
) -> ApiError | None:
    """The base URL is wrong: it is the endpoint itself, or the server redirects it."""
    status = getattr(exc, "status_code", 0)
    response = getattr(exc, "response", None)
    history = getattr(response, "history", None)
    if history:
        target = str(response.url) if response is not None else ""
        if target.rstrip("/").endswith(_ENDPOINT):
            new_base = target.rstrip("/").removesuffix(_ENDPOINT)
            return ApiError(
                _("the server redirected to {url}; set that as the base URL").format(
                    url=redact(new_base)
                )
            )
        return ApiError(
            _(
                "the server redirected {url} to {target}, which answered {status}; "
                "check the base URL"
            ).format(url=redact(base_url) + _ENDPOINT, target=redact(target), status=status)
        )
    if status in (404, 405) and _is_endpoint(base_url):
        return _endpoint_as_base(base_url, redact)
    if status == 405:
        answered = _with_detail(
            _("no chat API at {url}: the server answered 405").format(
                url=redact(base_url) + _ENDPOINT
            ),
            detail,
        )
        return ApiError(_("{error}; {hint}").format(error=answered, hint=_base_url_hint(base_url)))
    return None


def _is_endpoint(base_url: str) -> bool:
    return base_url.rstrip("/").endswith(_ENDPOINT)


def _endpoint_as_base(base_url: str, redact: Redactor) -> ApiError:
    fixed = base_url.rstrip("/").removesuffix(_ENDPOINT)
    return ApiError(
        _("the base URL {url} is the chat endpoint itself; set the base URL to {fixed}").format(
            url=redact(base_url), fixed=redact(fixed)
        )
    )


def _base_url_hint(base_url: str) -> str:
    """Ask about ``/v1`` only when the URL has no version in its path."""
    if re.search(r"/v\d", urlsplit(base_url).path):
        return _("check the base URL")
    return _("is the base URL missing `/v1`?")


def _not_chat(exc: NotChatBody, *, started: bool, base_url: str, redact: Redactor) -> ApiError:
    """A 200 answer that was not a chat reply, or that reported an error inside it."""
    where = redact(base_url)
    detail = redact(" ".join(exc.detail.split())[:300])
    if exc.kind == "error_event":
        if is_context_length_text(detail):
            return ContextLengthExceeded(
                _with_detail(
                    _("the server says the conversation is longer than the model's context"),
                    detail,
                )
            )
        return ServerError(_reported(detail, started=started))
    if exc.kind == "bad_encoding":
        label, _colon, why = detail.partition(": ")
        undecoded = _with_detail(
            _(
                "the reply from {where} is labelled {label}-compressed but does not decompress"
            ).format(where=where, label=label),
            why,
        )
        return StreamDropped(
            _("{error}; a proxy in between may be damaging it").format(error=undecoded)
        )
    if exc.kind == "json_error":
        return ServerError(_reported(detail, started=False))
    if _is_endpoint(base_url):
        return _endpoint_as_base(base_url, redact)
    if exc.redirected_to is not None:
        where = _("{url}, redirected to {target},").format(
            url=where, target=redact(exc.redirected_to)
        )
    page = exc.kind == "web_page"
    what = web_page(detail) if page else _with_detail(_("something else"), detail)
    return ApiError(
        _("the server at {where} answered with {what}, not the API; {base_url_hint}").format(
            where=where, what=what, base_url_hint=_base_url_hint(base_url)
        )
    )


def _page_in_front(exc: Exception, *, where: str) -> ApiError | None:
    """A web page with a 4xx status: a CDN challenge or a proxy, never the key's fault.

    Named by its title, as a 5xx page is; a 404 page keeps its base-URL hint.
    """
    status = getattr(exc, "status_code", 0)
    if not 400 <= status < 500 or status in (404, 405, 429):
        return None
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        return None  # JSON, whatever its label: the API's own error
    text = body.strip() if isinstance(body, str) else ""
    if not text.startswith("<"):
        response = getattr(exc, "response", None)
        kind = response.headers.get("content-type", "") if response is not None else ""
        if "html" not in kind.lower():
            return None
    title = page_title(text.encode("utf-8", errors="replace"))
    page = web_page(title)
    return ApiError(
        _(
            "the server at {where} answered {status} with {page}, not the API: "
            "something in front of it (a CDN, proxy or firewall) stopped the "
            "request"
        ).format(where=where, status=status, page=page)
    )
