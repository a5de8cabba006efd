"""Files attached to a message: what they are, and what they become in the request.

A file's kind is decided by its content, never its name: PNG, JPEG, GIF and WebP
by their magic bytes; text when it is valid UTF-8 with no NUL byte; anything else
is refused. Text goes into the message as a fenced block headed by the file's
name; images go as OpenAI ``image_url`` parts holding base64 ``data:`` URLs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from chatbot.errors import AttachmentError
from chatbot.i18n import _

__all__ = [
    "MAX_IMAGE_BYTES",
    "Attachment",
    "AttachmentKind",
    "AttachmentTooBig",
    "api_content",
    "describe_attachments",
    "fence_for",
    "format_size",
    "image_dimensions",
    "load_attachment",
    "message_text",
    "sniff",
    "text_block",
    "too_big",
]

#: Larger images are refused: OpenAI's limit per image, and more than any server wants.
MAX_IMAGE_BYTES = 20 * 1024 * 1024

_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_UTF8_BOM = b"\xef\xbb\xbf"


class AttachmentTooBig(AttachmentError):
    """A file refused from its size alone, unread."""

    def __init__(self, message: str, size: int, *, image: bool) -> None:
        super().__init__(message)
        self.size = size
        self.image = image


class AttachmentKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"


@dataclass(frozen=True, kw_only=True, slots=True)
class Attachment:
    """One attached file, as read when it was attached (later edits do not change it)."""

    #: The name shown to the user and the model: the file's name, without its folder.
    name: str
    kind: AttachmentKind
    #: ``text/plain`` or the image type found in the magic bytes.
    mime: str
    #: The file's bytes (for text, UTF-8 without a byte-order mark).
    data: bytes = field(repr=False)
    #: The decoded text of a text file; empty for an image.
    text: str = field(default="", repr=False)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def data_url(self) -> str:
        """The image as a base64 ``data:`` URL, the form every OpenAI-compatible server takes."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    @classmethod
    def from_bytes(cls, name: str, data: bytes, *, label: str | None = None) -> Attachment:
        """Sniff ``data``; raise :class:`AttachmentError` naming it (``label``, else ``name``)
        if it is neither kind."""
        found = sniff(data)
        if found is None:
            raise AttachmentError(
                _(
                    "{name} is not a text file or a PNG, JPEG, GIF or WebP image: not attached"
                ).format(name=label or name)
            )
        kind, mime = found
        if kind is AttachmentKind.TEXT:
            body = data.removeprefix(_UTF8_BOM)
            return cls(name=name, kind=kind, mime=mime, data=body, text=body.decode("utf-8"))
        return cls(name=name, kind=kind, mime=mime, data=data)


def sniff(data: bytes) -> tuple[AttachmentKind, str] | None:
    """(kind, MIME type) decided by content alone, or None for anything else."""
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return AttachmentKind.IMAGE, mime
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return AttachmentKind.IMAGE, "image/webp"
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return AttachmentKind.TEXT, "text/plain"


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text`` (at least three)."""
    # Substring searches run in C: this runs on every request that carries the file.
    fence = "```"
    while fence in text:
        fence += "`"
    return fence


def text_block(attachment: Attachment) -> str:
    """The file's name, then its text in a fence nothing inside it can close."""
    body = attachment.text
    fence = fence_for(body)
    newline = "" if body.endswith("\n") or not body else "\n"
    return f"{attachment.name}\n{fence}\n{body}{newline}{fence}"


def message_text(content: str, attachments: Sequence[Attachment]) -> str:
    """What the model reads as the message's text: each text file's block, then the question.

    Files come first and the question last, as models answer best with the
    material before the question about it.
    """
    blocks = [text_block(a) for a in attachments if a.kind is AttachmentKind.TEXT]
    if not blocks:
        return content
    if content.strip():
        blocks.append(content)
    return "\n\n".join(blocks)


def api_content(content: str, attachments: Sequence[Attachment]) -> str | list[dict[str, object]]:
    """A message's ``content`` on the wire.

    A string when there are no images (many servers accept nothing else); with
    images, a list of parts: the text part, then one ``image_url`` part each.
    """
    text = message_text(content, attachments)
    images = [a for a in attachments if a.kind is AttachmentKind.IMAGE]
    if not images:
        return text
    parts: list[dict[str, object]] = []
    if text:
        parts.append({"type": "text", "text": text})
    for image in images:
        parts.append({"type": "image_url", "image_url": {"url": image.data_url()}})
    return parts


def load_attachment(path: Path, *, max_text_bytes: int | None = None) -> Attachment:
    """Read and sniff the file at ``path``; every refusal is one line naming it.

    ``max_text_bytes`` refuses, unread, a text file so big that it cannot fit
    the model's context anyway (the caller derives it from the budget).
    """
    shown = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise AttachmentError(_("{shown}: no such file").format(shown=shown)) from None
    except OSError as exc:
        raise AttachmentError(
            _("{shown}: cannot read it ({reason})").format(shown=shown, reason=_reason(exc))
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise AttachmentError(
            _("{shown} is a folder: attach the files in it one by one").format(shown=shown)
        )
    if not stat.S_ISREG(info.st_mode):
        raise AttachmentError(_("{shown} is not a regular file").format(shown=shown))
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
            found = sniff(head)
            image = found is not None and found[0] is AttachmentKind.IMAGE
            limit = MAX_IMAGE_BYTES if image else max_text_bytes
            if limit is not None and info.st_size > limit:
                raise AttachmentTooBig(
                    too_big(shown, info.st_size, image=image), info.st_size, image=image
                )
            rest = handle.read() if limit is None else handle.read(limit + 1 - len(head))
            size = len(head) + len(rest)
            if limit is not None and size > limit:  # it grew meanwhile
                raise AttachmentTooBig(too_big(shown, size, image=image), size, image=image)
    except OSError as exc:
        raise AttachmentError(
            _("{shown}: cannot read it ({reason})").format(shown=shown, reason=_reason(exc))
        ) from None
    return Attachment.from_bytes(path.name or shown, head + rest, label=shown)


def too_big(shown: str, size: int, *, image: bool) -> str:
    """The refusal of a file from its size alone."""
    if image:
        return _(
            "{name} is {size}: images over {limit} are refused by servers, so it was not attached"
        ).format(name=shown, size=format_size(size), limit=format_size(MAX_IMAGE_BYTES))
    return _("{name} is {size}, far more than this model's context holds: not attached").format(
        name=shown, size=format_size(size)
    )


def format_size(size: int) -> str:
    """``320 B``, ``1.2 kB``, ``3.4 MB`` (decimal units, as file managers show)."""
    if size < 1000:
        return f"{size} B"
    for unit in ("kB", "MB", "GB"):
        size_in = size / 1000
        if size_in < 1000 or unit == "GB":
            return f"{size_in:.1f} {unit}"
        size = int(size_in)
    raise AssertionError("unreachable")


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno).lower() if exc.errno else exc.__class__.__name__


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image's header, or None when it cannot be read."""
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_dimensions(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_dimensions(data)
    return None


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30:
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return width, height
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


#: JPEG start-of-frame markers (baseline, progressive, ...), which carry the size.
_SOF_MARKERS = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        length = int.from_bytes(data[index + 2 : index + 4], "big")
        if marker in _SOF_MARKERS:
            height = int.from_bytes(data[index + 5 : index + 7], "big")
            width = int.from_bytes(data[index + 7 : index + 9], "big")
            return width, height
        index += 2 + length
    return None


def describe_attachments(attachments: Sequence[Attachment]) -> str:
    """``notes.txt (3.2 kB), photo.png (image/png, 81.0 kB)``: for one-line listings."""
    return ", ".join(
        f"{a.name} ({format_size(a.size)})"
        if a.kind is AttachmentKind.TEXT
        else f"{a.name} ({a.mime}, {format_size(a.size)})"
        for a in attachments
    )
