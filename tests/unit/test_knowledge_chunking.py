"""Chunking keeps sections apart, and code blocks and tables whole."""

from __future__ import annotations

from chatbot.knowledge.chunking import Chunk, chunk_document
from chatbot.knowledge.extraction import DocumentKind, Extracted


def _chunks(text: str, kind: DocumentKind = DocumentKind.MARKDOWN, **sizes: int) -> list[Chunk]:
    return chunk_document(Extracted(kind=kind, text=text), **sizes)


def _paragraphs(count: int, word: str = "lorem") -> str:
    return "\n\n".join(f"{word} ipsum dolor sit amet number {n} " * 4 for n in range(count))


def test_every_heading_starts_a_passage_named_by_its_path() -> None:
    text = (
        "# Guide\n\nIntro text.\n\n## Install\n\nRun the installer.\n\n### Windows\n\nClick it.\n"
    )
    chunks = _chunks(text)
    assert [c.heading for c in chunks] == ["Guide", "Guide › Install", "Guide › Install › Windows"]
    assert chunks[2].text.startswith("### Windows")
    assert (chunks[2].first_line, chunks[2].last_line) == (9, 11)


def test_a_heading_with_nothing_under_it_is_only_part_of_the_path() -> None:
    chunks = _chunks("# Manual\n\n## Chapter\n\nBody.\n")
    assert len(chunks) == 1
    assert chunks[0].heading == "Manual › Chapter"


def test_rst_levels_follow_the_order_adornments_appear() -> None:
    text = (
        "=====\nTitle\n=====\n\nSection\n=======\n\nText one.\n\nSub\n---\n\nText two.\n\n"
        "Other\n=====\n\nText three.\n"
    )
    chunks = _chunks(text, DocumentKind.RST)
    assert [c.heading for c in chunks] == [
        "Title › Section",
        "Title › Section › Sub",
        "Title › Other",
    ]


def test_a_fenced_code_block_is_never_cut_when_it_fits() -> None:
    code = "```python\n" + "\n".join(f"x{n} = {n}  # a comment" for n in range(60)) + "\n```"
    text = f"# Code\n\n{_paragraphs(3)}\n\n{code}\n\n{_paragraphs(3)}\n"
    chunks = _chunks(text, target=600, limit=4000)
    holders = [c for c in chunks if "x0 = 0" in c.text]
    assert len(holders) == 1
    assert "x59 = 59" in holders[0].text and holders[0].text.count("```") == 2


def test_a_code_block_too_big_is_cut_into_fenced_pieces() -> None:
    code = "```sh\n" + "\n".join(f"echo line {n} of a long script" for n in range(300)) + "\n```"
    chunks = _chunks(f"# Script\n\n{code}\n", limit=2000)
    assert len(chunks) > 2
    for chunk in chunks:
        body = chunk.text.removeprefix("# Script\n\n")
        assert body.startswith("```sh") and body.endswith("```"), chunk.text[:40]
    joined = "".join(chunks[i].text for i in range(len(chunks)))
    assert all(f"echo line {n} " in joined for n in range(300))


def test_a_table_too_big_repeats_its_header_in_every_piece() -> None:
    rows = "\n".join(f"| pkg{n} | {n} | a description of package {n} |" for n in range(200))
    table = "| name | size | what |\n|---|---|---|\n" + rows
    chunks = _chunks(f"# Packages\n\n{table}\n", limit=1500)
    assert len(chunks) > 2
    for chunk in chunks:
        assert "| name | size | what |\n|---|---|---|" in chunk.text
    assert sum(c.text.count("| pkg") for c in chunks) == 200


def test_a_small_table_stays_whole_with_its_section() -> None:
    table = "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |"
    chunks = _chunks(f"## Sizes\n\nSee below.\n\n{table}\n")
    assert len(chunks) == 1 and table in chunks[0].text


def test_rst_grid_and_simple_tables_are_kept_whole() -> None:
    grid = "+-----+-----+\n| a   | b   |\n+=====+=====+\n| 1   | 2   |\n+-----+-----+"
    simple = "=====  =====\nkey    value\n=====  =====\none    1\ntwo    2\n=====  ====="
    chunks = _chunks(f"Tables\n======\n\n{grid}\n\n{simple}\n", DocumentKind.RST)
    assert len(chunks) == 1
    assert grid in chunks[0].text and simple in chunks[0].text


def test_a_comment_in_a_rst_literal_block_is_not_a_heading() -> None:
    text = "Example\n=======\n\nLike this::\n\n   # not a heading\n   print(1)\n\nAfter.\n"
    chunks = _chunks(text, DocumentKind.RST)
    assert {c.heading for c in chunks} == {"Example"}


def test_a_long_section_is_cut_between_paragraphs_keeping_its_heading_path() -> None:
    chunks = _chunks("# Long\n\n" + _paragraphs(30), target=800)
    assert len(chunks) > 3
    assert {c.heading for c in chunks} == {"Long"}
    assert chunks[0].text.startswith("# Long")
    assert all(len(c.text.encode()) <= 1200 for c in chunks)


def test_one_huge_line_is_cut_by_sentences() -> None:
    line = " ".join(f"Sentence {n} says something." for n in range(400))
    chunks = _chunks(line, DocumentKind.TEXT, target=500)
    assert len(chunks) > 10
    assert all(len(c.text.encode()) <= 600 for c in chunks)


def test_pdf_passages_carry_pages_and_the_outline_section() -> None:
    text = "first page text\n\nmore\n\nsecond page text\n"
    document = Extracted(
        kind=DocumentKind.PDF,
        text=text,
        file_lines=False,
        page_starts=(0, 4),
        outline=((1, "Intro"), (2, "Details")),
    )
    chunks = chunk_document(document, target=20)
    assert [(c.pages, c.heading) for c in chunks][-1] == ((2, 2), "Details")
    assert chunks[0].pages == (1, 1) and chunks[0].heading == "Intro"
