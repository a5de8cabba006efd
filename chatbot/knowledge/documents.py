"""What reading a file gives: its kind and its text, or the reason it cannot be read."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["DocumentKind", "Extracted", "Unreadable"]


class DocumentKind(StrEnum):
    MARKDOWN = "markdown"
    RST = "rst"
    TEXT = "text"
    HTML = "html"
    PDF = "pdf"


class Unreadable(Exception):
    """A file the knowledge base cannot read; ``str()`` is the short reason."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Extracted:
    """A file's text, ready to chunk."""

    kind: DocumentKind
    text: str
    #: Whether line numbers in ``text`` are the file's own (not for HTML or PDF).
    file_lines: bool = True
    #: For a PDF: the line (0-based) of ``text`` each page starts at.
    page_starts: tuple[int, ...] = ()
    #: For a PDF: (page number, title) of its outline entries, by page.
    outline: tuple[tuple[int, str], ...] = field(default=())
