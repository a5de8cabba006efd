"""Files are read by content: each kind's text, and a reason for anything else."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from collections.abc import Callable

import pytest

from chatbot.knowledge import extraction
from chatbot.knowledge.extraction import DocumentKind, Unreadable, extract
from chatbot.knowledge.html_text import html_to_text
from chatbot.knowledge.keywords import keyword_terms, match_expression
from chatbot.knowledge.spaceless import bigrams, index_text, rejoin_wrapped


def test_markdown_rst_and_plain_text_are_told_apart_by_content() -> None:
    assert (
        extract(b"# Title\n\nSee [docs](http://x).\n", name="notes").kind is DocumentKind.MARKDOWN
    )
    rst = b"Title\n=====\n\n.. note::\n\n   Careful.\n\nSee :ref:`other`.\n"
    assert extract(rst, name="README.md").kind is DocumentKind.RST
    assert extract(b"just some words\n", name="x.txt").kind is DocumentKind.TEXT
    assert extract(b"just some words\n", name="x.md").kind is DocumentKind.MARKDOWN


def test_html_is_read_as_its_text_without_scripts_navigation_or_contents() -> None:
    page = (
        "<!DOCTYPE html><html><head><title>T</title><style>p{}</style></head><body>"
        "<div class='navheader'>Prev Next</div><div class='toc'>1. Intro</div>"
        "<h1>Manual</h1><p>Hello &amp; <b>welcome</b>.</p><script>alert(1)</script>"
        "<h2>Steps</h2><ul><li><p>one</p></li><li>two</li></ul>"
        "<pre>a  b\n  c</pre><table><tr><th>k</th><th>v</th></tr><tr><td>x|y</td><td>1</td></tr>"
        "</table></body></html>"
    )
    document = extract(page.encode(), name="page")
    assert document.kind is DocumentKind.HTML
    text = document.text
    assert "# Manual" in text and "## Steps" in text
    assert "Hello & welcome." in text
    assert "- one" in text and "- two" in text
    assert "```\na  b\n  c\n```" in text
    assert "| k | v |\n|---|---|\n| x\\|y | 1 |" in text
    for furniture in ("alert", "Prev Next", "1. Intro", "p{}"):
        assert furniture not in text


def test_html_in_a_legacy_encoding_is_decoded_by_its_declaration() -> None:
    page = '<html><head><meta charset="shift_jis"></head><body><p>日本語</p></body></html>'
    assert "日本語" in extract(page.encode("shift_jis"), name="p.html").text


def test_hard_wrapped_japanese_in_html_is_joined_without_a_space() -> None:
    assert "パッケージ管理" in html_to_text("<p>パッケージ\n管理</p>")


def test_a_real_pdf_gives_its_text_and_pages() -> None:
    pypdf = pytest.importorskip("pypdf")
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(Unreadable, match="no text"):
        extract(buffer.getvalue(), name="blank.pdf")


def test_pdf_text_from_a_page_with_text(tmp_path: object) -> None:
    pypdf = pytest.importorskip("pypdf")
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = pypdf.PdfWriter()
    page = writer.add_blank_page(width=300, height=100)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 10 50 Td (Resolving DNS failures) Tj ET")
    page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    document = extract(buffer.getvalue(), name="doc.pdf")
    assert document.kind is DocumentKind.PDF
    assert "Resolving DNS failures" in document.text
    assert document.page_starts == (0,)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image"),
        (b"\x1f\x8b\x08\x00\x00", "damaged compressed file (gzip)"),
        (gzip.compress(gzip.compress(b"# Twice\n")), "compressed (gzip)"),
        (gzip.compress(b"\x7fELF\x02\x01\x01\x00"), "program"),
        (b"PK\x03\x04\x14\x00", "archive (zip; office files too)"),
        (b"abc\x00def", "binary"),
        (b"caf\xe9 latin-1\n", "not UTF-8 text"),
        (b"   \n\n", "empty"),
        (b"%PDF-1.4 broken", "PDF: cannot be read"),
    ],
)
def test_anything_else_is_unreadable_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(Unreadable) as caught:
        extract(data, name="file")
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_a_compressed_document_is_read_through_as_what_it_holds(
    compress: Callable[[bytes], bytes],
) -> None:
    # Debian's /usr/share/doc is mostly README.gz and changelog.gz.
    text = "# Resetting the VPN\n\nRun `vpn reset`, then sign in again.\n"
    document = extract(compress(text.encode()), name="README.md.gz")
    assert document.kind is DocumentKind.MARKDOWN
    assert document.text == text


def test_a_compressed_file_that_unpacks_past_the_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(extraction, "MAX_DOCUMENT_BYTES", 1000)
    with pytest.raises(Unreadable, match="too large once decompressed"):
        extract(gzip.compress(b"a" * 1001), name="bomb.gz")
    assert extract(gzip.compress(b"a" * 1000), name="fits.gz").text == "a" * 1000


def test_utf16_with_a_byte_order_mark_is_text() -> None:
    assert extract("héllo wörld".encode("utf-16"), name="x").text == "héllo wörld"


def test_cjk_runs_become_overlapping_bigrams_and_wrapped_lines_rejoin() -> None:
    assert bigrams("Debianのパッケージ") == "Debian のパ パッ ッケ ケー ージ "
    assert bigrams("語") == " 語 "
    assert bigrams("plain English") == "plain English"
    assert rejoin_wrapped("パッケ\n  ージ and\nmore") == "パッケージ and\nmore"
    assert index_text("管理\nする") == " 管理 理す する "


def test_a_question_keeps_its_eight_longest_content_words_quoted() -> None:
    terms = keyword_terms(
        "How do I make the interpreter print tracebacks for uncaught exceptions in threads?"
    )
    assert terms == ["interpreter", "tracebacks", "exceptions", "uncaught", "threads", "print"]
    assert "how" not in terms and "the" not in terms and len(terms) <= 8
    hostile = 'NEAR(a b) OR "x" AND title:* -y'
    expression = match_expression(keyword_terms(hostile))
    assert expression is not None
    assert all(part.startswith('"') and part.endswith('"') for part in expression.split(" OR "))
    assert match_expression(keyword_terms("how is it?")) is None


def test_a_japanese_question_searches_its_bigrams() -> None:
    terms = keyword_terms("パッケージ管理とは")
    assert "パッ" in terms and "管理" in terms
