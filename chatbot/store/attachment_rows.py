"""Attachments in the store: one row per attached file, beside its message.

Text is kept in full; an image by name, type, size and hash, with its bytes, so
``/retry`` and a resumed conversation send it again exactly as it was. Rows go
with their message (``ON DELETE CASCADE``): /undo, /retry and deleting a
conversation leave none behind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from chatbot.conversation.attachments import Attachment, AttachmentKind
from chatbot.i18n import _

__all__ = ["AttachmentDamaged", "insert_attachments", "load_attachments"]


class AttachmentDamaged(ValueError):
    """A stored attachment does not match its recorded hash or kind."""


def insert_attachments(
    conn: sqlite3.Connection, message_id: int, attachments: Sequence[Attachment]
) -> None:
    """Store ``attachments`` for the message ``message_id``, in the same transaction."""
    conn.executemany(
        "INSERT INTO attachments"
        " (message_id, position, name, kind, mime, size, sha256, text, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                message_id,
                position,
                item.name,
                item.kind.value,
                item.mime,
                item.size,
                item.sha256,
                item.text if item.kind is AttachmentKind.TEXT else None,
                None if item.kind is AttachmentKind.TEXT else item.data,
            )
            for position, item in enumerate(attachments)
        ],
    )


def load_attachments(
    conn: sqlite3.Connection, conversation_id: int, *, since: int = 0
) -> dict[int, tuple[Attachment, ...]]:
    """A conversation's attachments, by message id, in the order attached.

    ``since`` leaves out the messages before that id (those outside a resumed window).

    Raises :class:`AttachmentDamaged` when a row's bytes do not match its hash.
    """
    rows = conn.execute(
        "SELECT a.message_id, a.name, a.kind, a.mime, a.sha256, a.text, a.data"
        " FROM attachments a JOIN messages m ON m.id = a.message_id"
        " WHERE m.conversation_id = ? AND a.message_id >= ?"
        " ORDER BY a.message_id, a.position",
        (conversation_id, since),
    ).fetchall()
    found: dict[int, list[Attachment]] = {}
    for message_id, name, kind, mime, digest, text, data in rows:
        item = _attachment(name=name, kind=kind, mime=mime, text=text, data=data)
        if item.sha256 != digest:
            raise AttachmentDamaged(
                _("attachment {name!r} of message {message_id}: wrong hash").format(
                    name=name, message_id=message_id
                )
            )
        found.setdefault(int(message_id), []).append(item)
    return {message_id: tuple(items) for message_id, items in found.items()}


def _attachment(
    *, name: str, kind: str, mime: str, text: str | None, data: bytes | None
) -> Attachment:
    if kind == AttachmentKind.TEXT.value and text is not None:
        return Attachment(
            name=name, kind=AttachmentKind.TEXT, mime=mime, data=text.encode("utf-8"), text=text
        )
    if kind == AttachmentKind.IMAGE.value and data is not None:
        return Attachment(name=name, kind=AttachmentKind.IMAGE, mime=mime, data=bytes(data))
    raise AttachmentDamaged(
        _("attachment {name!r}: unknown kind {kind!r}").format(name=name, kind=kind)
    )
