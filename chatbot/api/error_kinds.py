"""What kind of failure a server's words or a transport exception describe.

:func:`~chatbot.api.translate.translate` turns failures into domain errors; these
are its readers of the evidence: the server's message, the context-length and
image and alternation wordings real servers use, and why a connection failed.
"""

from __future__ import annotations

import re

from chatbot.api.body import page_title
from chatbot.api.events import ChatRequest
from chatbot.i18n import _

__all__ = [
    "connection_reason",
    "has_images",
    "hung_up",
    "is_about_images",
    "is_context_length",
    "is_context_length_text",
    "needs_alternation",
    "refuses_tools",
    "server_message",
    "web_page",
]


def web_page(title: str) -> str:
    """ "a web page (its title)": what came back instead of the API's answer."""
    return _("a web page ({title})").format(title=title) if title else _("a web page")


def server_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    message: object = None
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
    elif isinstance(body, str) and body.strip():
        # Not JSON: Ollama's plain "404 page not found", or a proxy's HTML page.
        text = body.strip()
        if text.startswith("<"):
            message = web_page(page_title(text.encode("utf-8", errors="replace")))
        else:
            message = text
    if not isinstance(message, str) or not message.strip():
        message = getattr(exc, "message", None)
    if not isinstance(message, str):
        return ""
    first_line = " ".join(message.split())
    return first_line[:300]


def refuses_tools(exc: Exception) -> bool:
    """True when an error status says the request's ``tools`` are not supported.

    OpenAI ("tools is not supported in this model"), Ollama ("does not support
    tools") and llama.cpp without --jinja ("tools param requires --jinja flag")
    answer 400, some proxies 422 or 500; all name tools or functions.
    """
    status = getattr(exc, "status_code", None)
    if status not in (400, 422, 500, 501) or is_context_length(exc):
        return False
    text = f"{server_message(exc)} {exc}".lower()
    return "tool" in text or "function" in text


def is_context_length(exc: Exception) -> bool:
    body = getattr(exc, "body", None)
    code = body.get("code") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code", code)
    if code == "context_length_exceeded":
        return True
    return is_context_length_text(str(exc))


def is_context_length_text(text: str) -> bool:
    lowered = text.lower()
    return any(
        phrase in lowered
        for phrase in (
            "context length",
            "context_length",
            "maximum context",
            "too many tokens",
            # llama.cpp: "the request exceeds the available context size";
            # llama-cpp-python: "Requested tokens (N) exceed context window of M".
            "context size",
            "exceed context window",
        )
    )


def has_images(request: ChatRequest) -> bool:
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


def is_about_images(exc: Exception, detail: str) -> bool:
    status = getattr(exc, "status_code", 0)
    if status in (401, 403, 404, 429):
        return False
    text = f"{detail} {exc}".lower()
    return any(word in text for word in _IMAGE_WORDS)


def hung_up(exc: Exception) -> bool:
    """True when the server took the connection and closed it without a response."""
    cause: BaseException | None = exc
    while cause is not None:
        text = str(cause).lower()
        if "without sending a response" in text or "server disconnected" in text:
            return True
        if type(cause).__name__ == "RemoteProtocolError" and "refused" not in text:
            return True
        cause = cause.__cause__ or cause.__context__
    return False


#: Strict chat templates (Mistral, vLLM, Hugging Face's raise_exception) refuse a
#: history whose user and assistant turns do not alternate.
_ALTERNATION = re.compile(
    r"must alternate|unexpected role '?\w+'? after role|roles? (?:are )?not alternating",
    re.IGNORECASE,
)


def needs_alternation(detail: str) -> bool:
    return bool(_ALTERNATION.search(detail))


def connection_reason(exc: Exception) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        text = str(cause).lower()
        if "refused" in text:
            return _("connection refused")
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
            return _("the host name does not resolve")
        if "ssl" in text or "certificate" in text:
            return _("TLS/certificate problem")
        cause = cause.__cause__ or cause.__context__
    return _("network error")
