"""Conversations out of the store and back in: a Markdown transcript and a JSON format.

Markdown is for people to read or share; JSON keeps every field so a conversation
can move to another machine and be imported as a new one.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from datetime import datetime, tzinfo

from chatbot.conversation.attachments import (
    Attachment,
    AttachmentKind,
    format_size,
    message_text,
)
from chatbot.conversation.messages import Message, ReplyStatus, Role, restore_tool_fields
from chatbot.conversation.references import Source
from chatbot.errors import AttachmentError, ConfigError
from chatbot.i18n import N_, _, gettext
from chatbot.store.records import (
    ImportedConversation,
    ImportedMessage,
    MessageMeta,
    StoredConversation,
)
from chatbot.store.source_rows import source_from_record, source_record

__all__ = ["FORMAT", "FORMAT_VERSION", "from_json", "to_json", "to_markdown"]

FORMAT = "chatbot-conversation"
#: Version 2 adds ``attachments`` to messages, version 3 ``sources`` (the passages from
#: knowledge bases a reply was given). A file is written with the oldest version that
#: holds what it has, so older chatbots import it; one with attachments or sources is
#: refused by them ("exported by a newer chatbot") rather than imported without them.
FORMAT_VERSION = 3

# The transcript is for people to read, so it is in their language; JSON never changes.
_STATUS_NOTES = {
    ReplyStatus.INTERRUPTED: N_("_(interrupted)_"),
    ReplyStatus.LENGTH: N_("_(cut off: the reply reached its token limit)_"),
    ReplyStatus.FILTERED: N_("_(stopped by the content filter)_"),
    ReplyStatus.FAILED: N_("_(incomplete: the connection dropped)_"),
    ReplyStatus.CUT: N_("_(cut: the stream ended before the reply was finished)_"),
    ReplyStatus.TOOL_CALLS: N_("_(the model asked for a tool this chat does not offer)_"),
    ReplyStatus.EMPTY: N_("_(empty: the server sent no text)_"),
    ReplyStatus.ABNORMAL: N_("_(ended early by the server)_"),
    ReplyStatus.DECLINED: N_("_(not run: not approved)_"),
    ReplyStatus.SKIPPED: N_("_(not run: the turn reached its limit of tool rounds)_"),
    ReplyStatus.REFUSED: N_("_(a refusal: the model declined to answer)_"),
    ReplyStatus.NOT_RUN: N_("_(not run: an earlier call was cancelled)_"),
}
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _heading(message: Message) -> str:
    if message.summary:
        return _("## Summary of earlier turns")
    if message.role is Role.TOOL:
        return _("### Tool result: `{tool}`").format(tool=message.tool_name or _("tool"))
    return {Role.USER: _("## You"), Role.ASSISTANT: _("## Assistant"), Role.SYSTEM: _("## System")}[
        message.role
    ]


def _tool_parts(message: Message) -> list[str]:
    """A reply's tool calls, and a result's body, as fenced blocks that cannot break out."""
    parts = []
    for call in message.tool_calls:
        parts.append(
            _("Calls `{tool}` with:").format(tool=call.name)
            + "\n\n"
            + _fenced(call.arguments, "json")
        )
    if message.role is Role.TOOL:
        body = message.content.strip("\n")
        parts.append(_fenced(body, "text") if body else _("_(no output)_"))
    return parts


def _fenced(text: str, language: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _close_fences(text: str) -> str:
    """Close a code fence left open by a cut-off reply, so it cannot swallow the rest."""
    opener: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if match is None:
            continue
        fence = match.group(1)
        if opener is None:
            opener = fence
        elif fence[0] == opener[0] and len(fence) >= len(opener) and not line.strip()[len(fence) :]:
            opener = None
    return text if opener is None else f"{text}\n{opener}"


def _blockquote(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())


def _image_line(image: Attachment) -> str:
    return (
        f"![{image.name}](<{image.name}>) "
        f"_({image.mime}, {format_size(image.size)}, sha256 {image.sha256[:12]})_"
    )


def _attachment_json(item: Attachment) -> dict[str, object]:
    """Text in full; an image's bytes as base64, so an import can send it again."""
    record: dict[str, object] = {
        "name": item.name,
        "kind": item.kind.value,
        "mime": item.mime,
        "size": item.size,
        "sha256": item.sha256,
    }
    if item.kind is AttachmentKind.TEXT:
        record["text"] = item.text
    else:
        record["data"] = base64.b64encode(item.data).decode("ascii")
    return record


def _sources_markdown(sources: tuple[Source, ...]) -> str:
    """The passages a reply was given, numbered as the model saw them."""
    lines = [f"{n}. {s.base}: {s.where(full=True)}" for n, s in enumerate(sources, 1)]
    return "**Sources**\n\n" + "\n".join(lines)


def _sources(raw: object, where: str) -> tuple[Source, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _Invalid(f"{where}sources must be a list")
    try:
        return tuple(source_from_record(item) for item in raw)
    except ValueError as exc:
        raise _Invalid(f"{where}sources: {exc}") from None


def _folded_thinking(thinking: str) -> str:
    """The model's thinking, folded away as Markdown viewers fold ``<details>``."""
    text = _close_fences(thinking.strip("\n").rstrip()).replace("</details>", "&lt;/details>")
    return f"<details><summary>{_('Thinking')}</summary>\n\n{text}\n\n</details>"


def to_markdown(conv: StoredConversation, *, tz: tzinfo | None = None) -> str:
    """A clean transcript: title, who and when, system prompt, then each turn.

    ``tz`` defaults to the local time zone.
    """
    info = conv.info
    started = datetime.fromtimestamp(info.created_at, tz).astimezone(tz)
    parts = [
        "# " + (info.title or _("Untitled conversation")),
        _("**Persona:** {persona} · **Model:** `{model}` · **Started:** {started}")
        .format(persona=info.persona, model=info.model, started=f"{started:%Y-%m-%d %H:%M %Z}")
        .rstrip(),
    ]
    if conv.system_prompt.strip():
        parts.append(_blockquote(_("**System prompt**") + "\n\n" + conv.system_prompt.strip()))
    shown = (info.persona, info.model)
    for message in conv.messages:
        section = [_heading(message)]
        meta = conv.meta.get(message.id) if message.id is not None else None
        # Name who answered whenever it changes, so a mid-chat persona switch is visible.
        if (
            message.role is Role.ASSISTANT
            and meta is not None
            and (meta.persona, meta.model) != shown
        ):
            shown = (meta.persona, meta.model)
            section.append(f"_{meta.persona} · {meta.model}_")
        if message.thinking.strip() and message.role is Role.ASSISTANT:
            section.append(_folded_thinking(message.thinking))
        # Text files as the blocks the model read, headed by their names; images as links.
        body = message_text(message.content, message.attachments).strip("\n").rstrip()
        if body and message.role is not Role.TOOL:
            section.append(_close_fences(body))
        section.extend(
            _image_line(a) for a in message.attachments if a.kind is AttachmentKind.IMAGE
        )
        section += _tool_parts(message)
        if message.sources and message.role is Role.ASSISTANT:
            section.append(_sources_markdown(message.sources))
        # A reply whose calls were offered and answered needs no note: its results follow.
        note = None if message.tool_calls else _STATUS_NOTES.get(message.status)
        if note is not None:
            note = gettext(note)
        if message.status is ReplyStatus.EMPTY and message.thinking.strip():
            note = _("_(no answer: the model only thought)_")
        if note is not None and message.role in (Role.ASSISTANT, Role.TOOL):
            section.append(note)
        parts.append("\n\n".join(section))
    return "\n\n".join(parts) + "\n"


def to_json(conv: StoredConversation) -> dict[str, object]:
    """Every field needed to recreate the conversation; ids are left out on purpose."""
    info = conv.info
    messages: list[dict[str, object]] = []
    for message in conv.messages:
        meta = conv.meta.get(message.id) if message.id is not None else None
        if meta is None:
            meta = MessageMeta(persona=info.persona, model=info.model, params={})
        messages.append(
            {
                "role": message.role.value,
                "content": message.content,
                "status": message.status.value,
                "summary": message.summary,
                "created_at": message.created_at,
                "persona": meta.persona,
                "model": meta.model,
                "params": dict(meta.params),
                "prompt_tokens": meta.prompt_tokens,
                "completion_tokens": meta.completion_tokens,
            }
        )
        if message.attachments:
            messages[-1]["attachments"] = [_attachment_json(a) for a in message.attachments]
        if message.sources:
            messages[-1]["sources"] = [source_record(s) for s in message.sources]
    version = 1
    if any(m.attachments for m in conv.messages):
        version = 2
    if any(m.sources for m in conv.messages):
        version = 3
    return {
        "format": FORMAT,
        "version": version,
        "title": info.title,
        "persona": info.persona,
        "model": info.model,
        "system_prompt": conv.system_prompt,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "messages": messages,
    }


class _Invalid(Exception):
    """A shape problem, reported with the source name by :func:`from_json`."""


def _text(obj: Mapping[str, object], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _Invalid(_("{where}{key} must be a string").format(where=where, key=key))
    return value


def _optional_text(
    obj: Mapping[str, object], key: str, where: str, default: str | None
) -> str | None:
    value = obj.get(key, default)
    if value is not None and not isinstance(value, str):
        raise _Invalid(_("{where}{key} must be a string or null").format(where=where, key=key))
    return value


def _timestamp(obj: Mapping[str, object], key: str, where: str, default: float | None) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid(
            _("{where}{key} must be a number of seconds since 1970").format(where=where, key=key)
        )
    return float(value)


def _count(obj: Mapping[str, object], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(
            _("{where}{key} must be a non-negative integer or null").format(where=where, key=key)
        )
    return value


def _choice(
    obj: Mapping[str, object], key: str, where: str, allowed: list[str], default: str | None
) -> str:
    value = obj.get(key, default)
    if value not in allowed:
        raise _Invalid(
            _("{where}{key} must be one of {choices}").format(
                where=where, key=key, choices=", ".join(allowed)
            )
        )
    assert isinstance(value, str)
    return value


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise _Invalid(_("{where} must be an object").format(where=where))
    return value


def _attachments(raw: object, where: str) -> tuple[Attachment, ...]:
    """Attachments of an exported message: sniffed again, as if attached now."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _Invalid(_("{where}attachments must be a list").format(where=where))
    found: list[Attachment] = []
    for index, item in enumerate(raw):
        place = f"{where}attachments[{index}]."
        obj = _mapping(item, place[:-1])
        name = _text(obj, "name", place)
        if "text" in obj:
            data = _text(obj, "text", place).encode("utf-8")
        else:
            try:
                data = base64.b64decode(_text(obj, "data", place), validate=True)
            except binascii.Error:
                raise _Invalid(_("{place}data must be base64").format(place=place)) from None
        try:
            found.append(Attachment.from_bytes(name, data))
        except AttachmentError as exc:
            raise _Invalid(_("{place}: {error}").format(place=place[:-1], error=exc)) from None
    return tuple(found)


def _message(
    raw: object, index: int, *, conversation: Mapping[str, object], started: float
) -> ImportedMessage:
    where = f"messages[{index}]."
    obj = _mapping(raw, f"messages[{index}]")
    summary = obj.get("summary", False)
    if not isinstance(summary, bool):
        raise _Invalid(_("{where}summary must be true or false").format(where=where))
    params = obj.get("params")
    message = Message(
        role=Role(_choice(obj, "role", where, [role.value for role in Role], None)),
        content=_text(obj, "content", where),
        status=ReplyStatus(
            _choice(obj, "status", where, [s.value for s in ReplyStatus], ReplyStatus.COMPLETE)
        ),
        # Hand-written files may omit per-message times and names: the conversation's apply.
        created_at=_timestamp(obj, "created_at", where, started),
        summary=summary,
        attachments=_attachments(obj.get("attachments"), where),
        sources=_sources(obj.get("sources"), where),
    )
    meta = MessageMeta(
        persona=_optional_text(obj, "persona", where, None) or _text(conversation, "persona", ""),
        model=_optional_text(obj, "model", where, None) or _text(conversation, "model", ""),
        params={} if params is None else dict(_mapping(params, f"{where}params")),
        prompt_tokens=_count(obj, "prompt_tokens", where),
        completion_tokens=_count(obj, "completion_tokens", where),
    )
    restore_tool_fields(message, meta.params)
    return ImportedMessage(message=message, meta=meta)


def from_json(data: object, *, source: str | None = None) -> ImportedConversation:
    """Validate parsed JSON from :func:`to_json`; raise a one-line ConfigError on bad shape."""
    source = _("the file") if source is None else source
    try:
        obj = _mapping(data, _("the top level"))
        if obj.get("format") != FORMAT:
            raise _Invalid(_("its format is not {format!r}").format(format=FORMAT))
        version = obj.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise _Invalid(_("version must be an integer"))
        if version > FORMAT_VERSION:
            raise ConfigError(
                _(
                    "{source} was exported by a newer chatbot (format version {version}); "
                    "upgrade chatbot to import it"
                ).format(source=source, version=version)
            )
        raw_messages = obj.get("messages")
        if not isinstance(raw_messages, list):
            raise _Invalid(_("messages must be a list"))
        started = _timestamp(obj, "created_at", "", None)
        return ImportedConversation(
            title=_optional_text(obj, "title", "", None),
            persona=_text(obj, "persona", ""),
            model=_text(obj, "model", ""),
            system_prompt=_text(obj, "system_prompt", ""),
            created_at=started,
            messages=tuple(
                _message(raw, index, conversation=obj, started=started)
                for index, raw in enumerate(raw_messages)
            ),
        )
    except _Invalid as exc:
        raise ConfigError(
            _("{source} is not a valid chatbot conversation: {error}").format(
                source=source, error=exc
            )
        ) from None
