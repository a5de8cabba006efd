"""Text fitted to the terminal counts wide characters as two cells and never splits one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.cells import cell_width, cut, fit, pad, wrap

# Latin, kana, kanji, full-width punctuation, an emoji with a skin tone, a combining accent.
_PIECES = st.sampled_from(
    ["a", "Z", " ", "日", "本", "語", "ア", "、", "。", "(", ")", "👍🏽", "e\u0301", "-"]
)
TEXT = st.lists(_PIECES, max_size=40).map("".join)


def _graphemes(text: str) -> list[str]:
    from rich.cells import split_graphemes

    spans, _ = split_graphemes(text)
    return [text[start:end] for start, end, _ in spans]


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("日本語のタイトル", 20, "日本語のタイトル"),
        ("日本語のタイトル", 9, "日本語の…"),
        ("日本語のタイトル", 8, "日本語…"),  # 日本語の would need 8 + the ellipsis
        ("abcdef", 4, "abc…"),
        ("abc", 0, ""),
    ],
)
def test_cut(text: str, width: int, expected: str) -> None:
    assert cut(text, width) == expected


def test_pad_and_fit_count_cells() -> None:
    assert pad("日本", 6) == "日本  "
    assert pad("12", 4, right=True) == "  12"
    assert fit("日本語です", 5) == "日本…"
    assert cell_width(fit("日本語です", 5)) == 5


@given(TEXT, st.integers(min_value=1, max_value=30))
def test_cut_fits_and_keeps_whole_characters(text: str, width: int) -> None:
    shown = cut(text, width)
    assert cell_width(shown) <= width
    kept = shown.removesuffix("…") if shown != text else shown
    # What is kept is a run of whole graphemes from the start of the text.
    assert _graphemes(text)[: len(_graphemes(kept))] == _graphemes(kept) or kept.endswith(" ")


@given(TEXT, st.integers(min_value=2, max_value=30))
def test_wrap_fits_and_loses_nothing(text: str, width: int) -> None:
    lines = wrap(text, width)
    assert all(cell_width(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        assert all(g in _graphemes(text) for g in _graphemes(line))


def test_wrap_breaks_japanese_between_characters_but_not_before_punctuation() -> None:
    text = "添付した状態で、チャットを始めます。"
    lines = wrap(text, 14)
    assert lines == ["添付した状態", "で、チャットを", "始めます。"]
    assert not any(line.startswith(("、", "。")) for line in lines)
    assert wrap("hello world again", 11) == ["hello world", "again"]


def test_an_error_line_folds_by_cells_with_its_indent_and_keeps_a_url_whole() -> None:
    from chatbot.text import fold_line

    japanese = "エラー: サーバーが API キーを拒否しました(401)。OPENAI_API_KEY を確認してください"
    lines = fold_line(japanese, 40).split("\n")
    assert all(cell_width(line) <= 40 for line in lines)
    assert all(line.startswith("  ") and not line[2:].startswith("、") for line in lines[1:])
    assert "".join(line.strip() for line in lines).replace(" ", "") == japanese.replace(" ", "")
    url = "http://127.0.0.1:1234/" + "x" * 60
    assert f"  {url}" in fold_line(f"cannot reach {url} (refused)", 40).split("\n")
