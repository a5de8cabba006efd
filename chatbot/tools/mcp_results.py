"""What comes back from MCP servers, made into text and one-line reasons."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.settings.tomlfile import one_line

__all__ = ["McpResult", "connection_lost", "last_log_line", "leaf", "result_text"]

_LOG_TAIL_BYTES = 4096


@dataclass(frozen=True, slots=True)
class McpResult:
    text: str
    is_error: bool


def leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def connection_lost(exc: BaseException) -> bool:
    text = str(leaf(exc)).lower()
    return "connection closed" in text or isinstance(
        leaf(exc), BrokenPipeError | ConnectionError | EOFError
    )


def last_log_line(path: Path) -> str:
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - _LOG_TAIL_BYTES))
            tail = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    if not lines:
        return ""
    return one_line("".join(ch for ch in lines[-1] if ch.isprintable()), limit=200)


def result_text(result: Any) -> McpResult:
    """A call's content as text: images and other binary parts are named, not sent."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or ():
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(block.text))
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} ({block.mime_type}) left out: this chat shows text only]")
        elif kind == "resource":
            resource = block.resource
            parts.append(getattr(resource, "text", None) or f"[resource {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[link: {block.uri}]")
        else:
            parts.append(f"[{kind or 'unknown'} content left out]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False))
    if not hasattr(result, "content"):
        return McpResult(text="the tool asked for input this chat cannot give", is_error=True)
    return McpResult(text="\n".join(parts), is_error=bool(getattr(result, "is_error", False)))
