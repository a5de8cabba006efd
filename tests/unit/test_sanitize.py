"""Model output reaches the terminal as text only, however it is split into chunks."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.render.sanitize import MAX_SEQUENCE, StreamSanitizer, sanitize

ESC = "\x1b"

# (model output, what the user must see)
CASES = [
    ("\x1b[31mred\x1b[0m text", "red text"),
    ("\x1b[1;38;5;196mbold\x1b[m", "bold"),
    ("before\x1b[2J\x1b[Hafter", "beforeafter"),
    ("\x1b[?1049hswitch\x1b[?1049l", "switch"),
    ("copy\x1b]52;c;ZWNobyBwd25lZA==\x07done", "copydone"),
    ("copy\x1b]52;c;ZWNobyBwd25lZA==\x1b\\done", "copydone"),
    ("\x1b]8;;https://evil.example\x1b\\click here\x1b]8;;\x1b\\", "click here"),
    ("\x1b]0;pwned\x07title", "title"),
    ("\x1b]2;pwned\x9ctitle", "title"),
    ("\x1bP+q544e\x1b\\dcs", "dcs"),
    ("\x1b_apc payload\x1b\\apc", "apc"),
    ("\x1b^pm\x1b\\\x1bXsos\x1b\\ok", "ok"),
    ("\x9b31mc1 csi\x9b0m", "c1 csi"),
    ("\x9d52;c;eA==\x07c1 osc", "c1 osc"),
    ("\x1bcreset\x1b7save\x1b8", "resetsave"),
    ("\x1b(0box\x1b(B", "box"),
    ("ding\x07dong", "dingdong"),
    ("nul\x00byte", "nulbyte"),
    ("back\x08space\x0bvt\x0cff", "backspacevtff"),
    ("del\x7fete", "delete"),
    ("c1\x85\x8e\x9f", "c1"),
    ("lone escape \x1b", "lone escape "),
    ("windows\r\nline\r\n", "windows\nline\n"),
    ("progress 10%\rprogress 100%", "progress 10%progress 100%"),
    # An OSC that an ESC interrupts ends there; the next sequence is removed too.
    ("\x1b]0;title\x1b[31mred", "red"),
]

PLAIN = [
    "Plain text\twith a tab\nand lines.\n",
    "日本語のテキストと中文和한국어",
    "emoji 👩‍👩‍👧 with zero-width joiner and \u200b space",
    "שלום עולם مرحبا بالعالم",
    "```python\nprint('[31m not an escape')\n```\n",
    "",
]

FORBIDDEN = {chr(c) for c in range(0x20) if chr(c) not in "\n\t"} | {
    chr(c) for c in range(0x7F, 0xA0)
}

# Characters that build and break escape sequences, plus some text.
SEQUENCE_ALPHABET = list("\x1b\x07\x9c\x9b\x9d\x90\x9f[]P_^X\\;:?0125mJHc(Bab \n\t\r\x00\x7f日")


def feed_in_pieces(text: str, cuts: list[int]) -> str:
    sanitizer = StreamSanitizer()
    points = sorted({0, len(text), *(c for c in cuts if 0 <= c <= len(text))})
    out = [sanitizer.feed(text[a:b]) for a, b in itertools.pairwise(points)]
    return "".join(out) + sanitizer.flush()


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_sequences_are_removed_whole(raw: str, shown: str) -> None:
    assert sanitize(raw) == shown


@pytest.mark.parametrize("text", PLAIN)
def test_plain_text_is_unchanged(text: str) -> None:
    assert sanitize(text) == text


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_sequence_split_at_every_boundary(raw: str, shown: str) -> None:
    for cut in range(len(raw) + 1):
        assert feed_in_pieces(raw, [cut]) == shown, f"split at {cut}"


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_sequence_fed_one_character_at_a_time(raw: str, shown: str) -> None:
    assert feed_in_pieces(raw, list(range(len(raw)))) == shown


def test_text_is_released_as_soon_as_it_is_safe() -> None:
    sanitizer = StreamSanitizer()
    assert sanitizer.feed("Hello ") == "Hello "
    assert sanitizer.feed("\x1b[3") == ""
    assert sanitizer.feed("1mred") == "red"
    assert sanitizer.feed(" and \x1b]52;c;") == " and "
    assert sanitizer.feed("QUJD\x07more") == "more"
    assert sanitizer.flush() == ""


def test_sequence_cut_off_by_end_of_stream_is_dropped() -> None:
    sanitizer = StreamSanitizer()
    shown = sanitizer.feed("partial answer\x1b]52;c;QUJD")
    assert shown + sanitizer.flush() == "partial answer"


def test_runaway_sequence_does_not_hold_back_the_reply() -> None:
    payload = "A" * (MAX_SEQUENCE * 3)
    sanitizer = StreamSanitizer()
    shown = ""
    for char in "\x1b]52;c;" + payload:
        shown += sanitizer.feed(char)
    # Long before the end, the text is flowing again (as text, never as a sequence).
    assert len(shown) >= len(payload) - 2 * MAX_SEQUENCE
    assert ESC not in shown
    assert shown + sanitizer.flush() == sanitize("\x1b]52;c;" + payload)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(SEQUENCE_ALPHABET) | st.characters()))
def test_output_never_contains_a_control(text: str) -> None:
    assert not FORBIDDEN & set(sanitize(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")) | st.sampled_from("\n\t")))
def test_text_without_controls_passes_through(text: str) -> None:
    assert sanitize(text) == text


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(SEQUENCE_ALPHABET), max_size=60),
    st.lists(st.integers(min_value=0, max_value=60), max_size=12),
)
def test_chunking_never_changes_the_result(text: str, cuts: list[int]) -> None:
    streamed = feed_in_pieces(text, cuts)
    assert streamed == sanitize(text)
    assert not FORBIDDEN & set(streamed)
