"""A PDF's text, page by page, through pypdf (the ``knowledge`` extra).

pypdf is pure Python and maintained; it is imported only when a PDF is met, so a
base of Markdown never pays for it. The outline (bookmarks), when the PDF has
one, names the section each page belongs to.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from chatbot.i18n import N_
from chatbot.knowledge.documents import DocumentKind, Extracted, Unreadable

__all__ = ["pdf_text"]


def pdf_text(data: bytes) -> Extracted:
    """The text of the PDF ``data``; :class:`Unreadable` when it has none or cannot be read."""
    try:
        import pypdf
    except ImportError:
        raise Unreadable(N_("PDF: needs pip install 'chatbot[knowledge]'")) from None
    # pypdf logs each damaged object it works around; the skip line says enough.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable(N_("PDF: encrypted"))
        pages = [page.extract_text() or "" for page in reader.pages]
        outline = _outline(reader)
    except Unreadable:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise Unreadable(f"PDF: cannot be read ({type(exc).__name__})") from None
    if not any(page.strip() for page in pages):
        raise Unreadable(N_("PDF: no text (scanned pages?)"))
    lines: list[str] = []
    starts: list[int] = []
    for page in pages:
        starts.append(len(lines))
        lines.extend(page.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        lines.append("")
    return Extracted(
        kind=DocumentKind.PDF,
        text="\n".join(lines),
        file_lines=False,
        page_starts=tuple(starts),
        outline=outline,
    )


def _outline(reader: Any) -> tuple[tuple[int, str], ...]:
    """(1-based page, title) of every outline entry, in page order; () if none."""
    entries: list[tuple[int, str]] = []

    def walk(items: Any) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if title and page is not None and page >= 0:
                entries.append((page + 1, title))

    try:
        walk(reader.outline)
    except Exception:
        return ()
    return tuple(sorted(entries, key=lambda entry: entry[0]))
