"""Long error lines are folded between words on a terminal, and stay one line in a log."""

from __future__ import annotations

import io

from rich.console import Console

from chatbot.repl.notices import Notices
from chatbot.text import fold_line, on_terminal

LINE = (
    "error: the server at http://127.0.0.1:8080/v1 answered 403 with a web page (Just a "
    "moment...), not the API: something in front of it (a CDN, proxy or firewall) stopped "
    "the request"
)


def test_a_long_line_folds_between_words_and_reads_the_same_joined() -> None:
    folded = fold_line(LINE, 40).split("\n")
    assert len(folded) > 1
    assert all(len(line) <= 40 for line in folded)
    assert all(line.startswith("  ") for line in folded[1:])
    assert " ".join(line.strip() for line in folded) == LINE


def test_a_word_longer_than_the_line_is_kept_whole() -> None:
    url = "http://example.com/" + "x" * 60
    folded = fold_line(f"cannot reach {url} (refused)", 40).split("\n")
    assert f"  {url}" in folded or url in folded[0]


def test_short_lines_and_pipes_are_left_alone() -> None:
    assert fold_line("short", 40) == "short"
    assert on_terminal(LINE, io.StringIO()) == LINE


def test_notices_fold_on_a_terminal_and_not_in_a_log() -> None:
    terminal, log = io.StringIO(), io.StringIO()
    Notices(console=Console(file=terminal, width=50, force_terminal=True, color_system=None)).error(
        LINE.removeprefix("error: ")
    )
    Notices(console=Console(file=log, width=50, color_system=None)).error(
        LINE.removeprefix("error: ")
    )
    shown = terminal.getvalue().splitlines()
    assert len(shown) > 2 and all(len(line) <= 50 for line in shown)
    assert " ".join(line.strip() for line in shown) == LINE
    assert log.getvalue() == LINE + "\n"
