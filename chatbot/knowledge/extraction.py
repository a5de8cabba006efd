"""What a file is and the text in it, decided by its content as attachments are.

PDF by its ``%PDF-`` header; HTML by its opening tags (its text, not its markup);
other text when it decodes as UTF-8 (or UTF-16 with a byte-order mark) and has no
NUL byte, then told apart as Markdown, reStructuredText or plain text by what is
in it. A file compressed with gzip, bzip2 or xz (Debian ships most of
``/usr/share/doc`` gzipped) is read through, one level deep, and judged by what it
holds. Anything else raises :class:`Unreadable` with a short reason, which the
indexer counts: a knowledge base never stops at one odd file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from chatbot.i18n import N_
from chatbot.knowledge.documents import DocumentKind, Extracted, Unreadable

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "DocumentKind",
    "Extracted",
    "Unreadable",
    "extract",
    "text_kind",
]

#: The most a document may be, on disk or once unpacked: bigger files are a log or a
#: disk image, not a document, and a small file that unpacks to gigabytes (a "zip
#: bomb") is refused, not read into memory.
MAX_DOCUMENT_BYTES = 100 * 1024 * 1024


_UTF8_BOM = b"\xef\xbb\xbf"
#: What a skipped file is, by its first bytes, for the reason shown.
_MAGIC_NAMES = (
    (b"\x89PNG", N_("image")),
    (b"\xff\xd8\xff", N_("image")),
    (b"GIF8", N_("image")),
    (b"\x1f\x8b", N_("compressed (gzip)")),
    (b"BZh", N_("compressed (bzip2)")),
    (b"\xfd7zXZ", N_("compressed (xz)")),
    (b"\x28\xb5\x2f\xfd", N_("compressed (zstd)")),
    (b"PK\x03\x04", N_("archive (zip; office files too)")),
    (b"\x7fELF", N_("program")),
    (b"SQLite format 3", N_("database")),
)
_BINARY_MAGIC = tuple(magic for magic, _ in _MAGIC_NAMES)
_HTML_START = re.compile(
    rb"\A(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html|head|body|meta|title)[\s>/]",
    re.IGNORECASE | re.DOTALL,
)
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)

_RST_SIGNS = re.compile(
    r"^\.\. [A-Za-z0-9_-]+::|^\.\. _[^:]+:|:(?:ref|func|class|meth|mod|doc|term):`"
    r"|::\n\n[ \t]+\S",
    re.MULTILINE,
)
_MARKDOWN_SIGNS = re.compile(
    r"^#{1,6}[ \t]+\S|^[ \t]*(?:```|~~~)|\[[^\]\n]+\]\([^)\s]+\)|^[ \t]*[-*][ \t]+\[[ xX]\]",
    re.MULTILINE,
)


def extract(data: bytes, *, name: str) -> Extracted:
    """The text of a file whose bytes are ``data``; ``name`` only breaks ties.

    Raises :class:`Unreadable` for anything that is not a document read here.
    """
    inner = _decompressed(data)
    if inner is not None:
        # One level: what is compressed again inside is skipped by its own magic.
        return _extract_plain(inner, name=_inner_name(name))
    return _extract_plain(data, name=name)


def _extract_plain(data: bytes, *, name: str) -> Extracted:
    if not data.strip():
        raise Unreadable(N_("empty"))
    if b"%PDF-" in data[:1024]:
        from chatbot.knowledge.pdf_text import pdf_text

        return pdf_text(data)
    text = _decode(data)
    if _HTML_START.match(data[:4096]):
        from chatbot.knowledge.html_text import html_to_text

        return Extracted(kind=DocumentKind.HTML, text=html_to_text(text), file_lines=False)
    return Extracted(kind=text_kind(text, name=name), text=text.replace("\r\n", "\n"))


def _decompressed(data: bytes) -> bytes | None:
    """The bytes inside a gzip, bzip2 or xz file, or None when ``data`` is none of those."""
    import bz2
    import gzip
    import lzma

    readers: dict[bytes, tuple[Callable[[io.BytesIO], io.BufferedIOBase], str]] = {
        b"\x1f\x8b": (lambda raw: gzip.GzipFile(fileobj=raw), N_("damaged compressed file (gzip)")),
        b"BZh": (bz2.BZ2File, N_("damaged compressed file (bzip2)")),
        b"\xfd7zXZ": (lzma.LZMAFile, N_("damaged compressed file (xz)")),
    }
    for magic, (reader, damaged) in readers.items():
        if not data.startswith(magic):
            continue
        try:
            with reader(io.BytesIO(data)) as unpacked:
                inner = unpacked.read(MAX_DOCUMENT_BYTES + 1)
        except (OSError, EOFError, lzma.LZMAError):
            raise Unreadable(damaged) from None
        if len(inner) > MAX_DOCUMENT_BYTES:
            raise Unreadable(N_("too large once decompressed"))
        return inner
    return None


def _inner_name(name: str) -> str:
    """``README.md.gz`` read as ``README.md``: the inner name breaks the kind's ties."""
    for suffix in (".gz", ".bz2", ".xz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise Unreadable(N_("broken UTF-16 text")) from None
    if b"\x00" in data or data.startswith(_BINARY_MAGIC):
        for magic, what in _MAGIC_NAMES:
            if data.startswith(magic):
                raise Unreadable(what)
        raise Unreadable(N_("binary"))
    body = data.removeprefix(_UTF8_BOM)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _CHARSET.search(data[:4096])
    if declared is not None and _HTML_START.match(data[:4096]):
        # An HTML page in a legacy encoding says which (Shift_JIS, EUC-JP, cp1252, ...).
        try:
            return body.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    raise Unreadable(N_("not UTF-8 text"))


def text_kind(text: str, *, name: str = "") -> DocumentKind:
    """Markdown, reStructuredText or plain text, from the signs of each in ``text``."""
    sample = text[:200_000]
    rst = len(_RST_SIGNS.findall(sample))
    markdown = len(_MARKDOWN_SIGNS.findall(sample))
    if rst > markdown:
        return DocumentKind.RST
    if markdown > rst:
        return DocumentKind.MARKDOWN
    lowered = name.lower()
    if lowered.endswith((".md", ".markdown", ".mdown", ".mkd")):
        return DocumentKind.MARKDOWN
    if lowered.endswith((".rst", ".rest", ".rst.txt")):
        return DocumentKind.RST
    return DocumentKind.TEXT
