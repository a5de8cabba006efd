"""Attaching files to the next message, checked against the model's budget first.

Shared by one-shot ``-f`` and the REPL's ``/file``: a file is read and sniffed
once, when attached, and refused in one line if it alone cannot fit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.conversation.attachments import (
    MAX_IMAGE_BYTES,
    Attachment,
    AttachmentKind,
    AttachmentTooBig,
    format_size,
    load_attachment,
    sniff,
    too_big,
)
from chatbot.errors import AttachmentError
from chatbot.i18n import _
from chatbot.tokens import MESSAGE_OVERHEAD

if TYPE_CHECKING:
    from chatbot.conversation.session import ChatSession

__all__ = ["Attached", "attach_data", "attach_files", "room_for_message"]

#: The fewest tokens a byte of text is estimated at (long words and space runs
#: cost a token per four bytes, and calibration may halve that): a text file of
#: more than ``room / _MIN_TOKENS_PER_BYTE`` bytes cannot fit, so it is not read.
_MIN_TOKENS_PER_BYTE = 0.125


@dataclass(frozen=True, kw_only=True, slots=True)
class Attached:
    attachment: Attachment
    #: Estimated tokens it adds to the message.
    tokens: int

    def line(self) -> str:
        """``attached notes.txt · ~320 tokens``: what the user is told."""
        kind = "" if self.attachment.kind is AttachmentKind.TEXT else f" ({self.attachment.mime})"
        return _("attached {name}{kind} · ~{tokens:,} tokens").format(
            name=self.attachment.name, kind=kind, tokens=self.tokens
        )


def room_for_message(session: ChatSession) -> int:
    """Tokens a new message may use: the prompt budget less the system prompt and summaries."""
    conversation = session.conversation
    fixed = session.counter.request_tokens([conversation.system_message(), *conversation.summaries])
    return max(0, session.budget.prompt_tokens - fixed - MESSAGE_OVERHEAD)


def _over(session: ChatSession, room: int) -> str:
    """The end of every "does not fit" refusal: how much room there is, and why."""
    budget = session.budget
    return _(
        "more than the {room:,} this model's {window:,}-token context has for a message "
        "(with {reserved:,} kept for the reply): not attached"
    ).format(room=room, window=budget.context_window, reserved=budget.reserved_for_reply)


def _text_limit(room: int) -> int:
    return int(room / _MIN_TOKENS_PER_BYTE) + 1024


def _fitted(attachment: Attachment, *, label: str, session: ChatSession, room: int) -> Attached:
    tokens = session.counter.file_tokens(attachment)
    if tokens > room:
        raise AttachmentError(
            _("{path} is about {tokens:,} tokens, {over}").format(
                path=label, tokens=tokens, over=_over(session, room)
            )
        )
    return Attached(attachment=attachment, tokens=tokens)


def attach_files(paths: Iterable[Path], *, session: ChatSession) -> list[Attached]:
    """Read each file; raise :class:`AttachmentError` naming the first that cannot be attached.

    All or nothing: a refused file means none of ``paths`` is attached.
    """
    room = room_for_message(session)
    attached: list[Attached] = []
    for path in paths:
        try:
            attachment = load_attachment(path, max_text_bytes=_text_limit(room))
        except AttachmentTooBig as exc:
            if exc.image:
                raise
            # Too big to be worth reading: its size alone shows it cannot fit.
            fewest = math.ceil(exc.size * _MIN_TOKENS_PER_BYTE)
            raise AttachmentError(
                _("{path} is {size} (at least ~{fewest:,} tokens), {over}").format(
                    path=path, size=format_size(exc.size), fewest=fewest, over=_over(session, room)
                )
            ) from None
        attached.append(_fitted(attachment, label=str(path), session=session, room=room))
    return attached


def attach_data(name: str, data: bytes, *, session: ChatSession) -> Attached:
    """A file that arrived as bytes (a browser's upload), under the same rules as ``-f``.

    The kind is sniffed from the bytes; an image over the servers' limit, a text
    that cannot fit the budget or anything else is refused in one line naming it.
    """
    label = name
    found = sniff(data[:16])
    image = found is not None and found[0] is AttachmentKind.IMAGE
    room = room_for_message(session)
    if image and len(data) > MAX_IMAGE_BYTES:
        raise AttachmentTooBig(too_big(label, len(data), image=True), len(data), image=True)
    if not image and len(data) > _text_limit(room):
        fewest = math.ceil(len(data) * _MIN_TOKENS_PER_BYTE)
        raise AttachmentError(
            _("{path} is {size} (at least ~{fewest:,} tokens), {over}").format(
                path=label, size=format_size(len(data)), fewest=fewest, over=_over(session, room)
            )
        )
    attachment = Attachment.from_bytes(name, data, label=label)
    return _fitted(attachment, label=label, session=session, room=room)
