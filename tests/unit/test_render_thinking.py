"""Thinking on screen: live while it arrives, folded after, and never mistaken for the answer.

Terminal cases render into a string console forced to be a terminal, then replay its
bytes through a tiny emulator (tests/support/screen.py) to see what a person sees once
the live regions are done; the live region itself is checked frame by frame.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from chatbot.render import make_renderer
from chatbot.render.markdown_stream import MarkdownStreamRenderer, reply_markdown
from chatbot.render.plain import PlainRenderer
from chatbot.render.thinking_region import ThinkingDisplay, ThinkingReplyRenderer, fold_line
from chatbot.tokens import estimate_tokens
from tests.support.screen import Screen

WIDTH = 60
THOUGHT = [
    "The user asks for the capital of France.\n\n",
    "I recall that it is Paris; let me double-check against what I know ",
    "about European capitals.\nYes, Paris.\n",
    "Now write a short answer.",
]
ANSWER = "The capital is **Paris**."
#: What play() folds to: 11 s from the first piece of thinking to the answer.
FOLDED = fold_line(seconds=11, tokens=estimate_tokens("".join(THOUGHT)))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_console(*, terminal: bool, height: int = 20) -> Console:
    return Console(
        file=io.StringIO(),
        width=WIDTH,
        height=height,
        force_terminal=terminal,
        color_system=None,
        legacy_windows=False,
    )


def written(console: Console) -> str:
    value = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(value, str)
    return value


def seen(console: Console) -> list[str]:
    screen = Screen(width=WIDTH)
    screen.feed(written(console))
    return screen.lines


def thinking_renderer(
    console: Console, mode: str, clock: Clock, *, markdown: bool = True
) -> ThinkingReplyRenderer:
    display = ThinkingDisplay(console=console, mode=mode, clock=clock)
    answer = (
        MarkdownStreamRenderer(console=console, clock=clock)
        if markdown
        else PlainRenderer(file=console.file)
    )
    return ThinkingReplyRenderer(answer=answer, display=display)


def play(renderer: ThinkingReplyRenderer, clock: Clock, *, thought: list[str] = THOUGHT) -> None:
    """The thinking a piece every 3 s from the first, then the answer 2 s later."""
    for number, piece in enumerate(thought):
        clock.now += 3.0 if number else 0.0
        renderer.think(piece)
    clock.now += 2.0
    for piece in (ANSWER[:10], ANSWER[10:]):
        renderer.feed(piece)
    renderer.finish()


def test_fold_shows_thinking_live_then_leaves_one_line_above_the_answer() -> None:
    console, clock = make_console(terminal=True), Clock()
    renderer = thinking_renderer(console, "fold", clock)
    renderer.think(THOUGHT[0])
    # The first sign is drawn at once, with the first thinking token.
    first = Screen(width=WIDTH)
    first.feed(written(console))
    assert first.lines[0] == "Thinking… 0 s"
    assert "capital of France" in first.text
    clock.now += 3.0
    play(renderer, clock, thought=THOUGHT[1:])
    assert seen(console) == [FOLDED, "The capital is Paris."]


def test_the_live_region_shows_the_last_lines_cropped_to_its_rows() -> None:
    console, clock = make_console(terminal=True), Clock()
    display = ThinkingDisplay(console=console, mode="fold", clock=clock, lines=2)
    display.feed("".join(f"line {number} of my reasoning\n" for number in range(1, 30)))
    frame = Screen(width=WIDTH)
    frame.feed(written(console))
    assert frame.lines == ["Thinking… 0 s", "line 28 of my reasoning", "line 29 of my reasoning"]
    clock.now += 1.0
    display.feed("word " * 100)
    frame = Screen(width=WIDTH)
    frame.feed(written(console))
    assert frame.lines[0] == "Thinking… 1 s"
    assert len(frame.lines) == 3, "a long line is wrapped, and only its last rows shown"
    assert all(len(line) <= WIDTH for line in frame.lines)
    display.fold()


def test_a_slow_trickle_is_not_redrawn_more_than_the_text_it_brings() -> None:
    # A slow model (or link): redraws for new text never write more than that text.
    console, clock = make_console(terminal=True), Clock()
    display = ThinkingDisplay(console=console, mode="fold", clock=clock)
    display.feed("Let me think about this carefully, one word at a time. " * 3)
    start = len(written(console))
    for _ in range(200):
        clock.now += 0.5  # well past the throttle each time
        display.feed("hm ")
    redrawn = len(written(console)) - start
    assert redrawn <= 2 * 200 * len("hm ") + 400, redrawn
    assert written(console)[start:].count("Thinking…") < 200 / 4
    display.fold()


def test_redraws_are_throttled_while_thinking_streams_fast() -> None:
    console, clock = make_console(terminal=True), Clock()
    display = ThinkingDisplay(console=console, mode="fold", clock=clock, refresh_per_second=8)
    display.feed("start ")
    drawn = len(written(console))
    for _ in range(2000):  # 2,000 tokens in one second
        clock.now += 0.0005
        display.feed("tok ")
    frames = written(console)[drawn:].count("Thinking…")
    assert 6 <= frames <= 9, frames
    display.fold()


def test_show_leaves_the_whole_thinking_dim_in_the_scrollback() -> None:
    console, clock = make_console(terminal=True), Clock()
    play(thinking_renderer(console, "show", clock), clock)
    lines = seen(console)
    assert lines[0] == "The user asks for the capital of France."
    assert "Now write a short answer." in lines
    assert lines[-2:] == [FOLDED, "The capital is Paris."]
    assert not any("Thinking…" in line for line in lines)


def test_hide_shows_only_the_timer_and_leaves_nothing() -> None:
    console, clock = make_console(terminal=True), Clock()
    renderer = thinking_renderer(console, "hide", clock)
    renderer.think(THOUGHT[0])
    first = Screen(width=WIDTH)
    first.feed(written(console))
    assert first.lines == ["Thinking… 0 s"]
    clock.now += 3.0
    play(renderer, clock, thought=THOUGHT[1:])
    assert seen(console) == ["The capital is Paris."]


def test_interrupted_while_thinking_folds_the_region() -> None:
    # Ctrl-C during the thinking: the session calls finish(), as after a reply.
    console, clock = make_console(terminal=True), Clock()
    renderer = thinking_renderer(console, "fold", clock)
    renderer.think("Considering the options")
    clock.now += 5.0
    renderer.finish()
    renderer.finish()
    assert seen(console) == ["Thought for 5.0 s · ~6 tokens"]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("fold", FOLDED + "\n"),
        ("show", "".join(THOUGHT) + "\n"),
        ("hide", ""),
    ],
)
def test_off_a_terminal_there_is_no_live_region(mode: str, expected: str) -> None:
    thinking, answer, clock = make_console(terminal=False), make_console(terminal=False), Clock()
    display = ThinkingDisplay(console=thinking, mode=mode, clock=clock)
    renderer = ThinkingReplyRenderer(answer=PlainRenderer(file=answer.file), display=display)
    play(renderer, clock)
    assert written(thinking) == expected
    assert written(answer) == ANSWER + "\n", "the answer's stream carries only the answer"


def test_thinking_text_is_sanitised() -> None:
    console, clock = make_console(terminal=False), Clock()
    display = ThinkingDisplay(console=console, mode="show", clock=clock)
    display.feed("ok \x1b]52;c;aGk=\x07then \x1b[2Jclear\x1b")
    display.feed("]0;title\x07 done")
    display.fold()
    assert written(console) == "ok then clear done\n"


def test_no_thinking_means_no_trace() -> None:
    console = make_console(terminal=True)
    renderer = thinking_renderer(console, "fold", Clock())
    renderer.feed("Just an answer.")
    renderer.finish()
    assert seen(console) == ["Just an answer."]


def test_make_renderer_wraps_either_renderer_only_when_asked() -> None:
    console = make_console(terminal=False)
    assert isinstance(make_renderer(console=console, markdown=True), MarkdownStreamRenderer)
    plain = make_renderer(console=console, markdown=False, think="fold")
    assert isinstance(plain, ThinkingReplyRenderer)
    assert isinstance(plain.answer, PlainRenderer)


def test_fold_line_wording() -> None:
    assert fold_line(seconds=0.42, tokens=1) == "Thought for 0.4 s · ~1 token"
    assert fold_line(seconds=14.2, tokens=900) == "Thought for 14 s · ~900 tokens"
    assert fold_line(seconds=125, tokens=12345) == "Thought for 2 min 5 s · ~12,345 tokens"


# -- raw HTML in an answer is shown, never swallowed --------------------------------


def render(text: str) -> str:
    console = make_console(terminal=False)
    console.print(reply_markdown(text))
    return written(console)


def stream(text: str, *, size: int = 3) -> str:
    console = make_console(terminal=True, height=10)
    renderer = MarkdownStreamRenderer(console=console)
    for start in range(0, len(text), size):
        renderer.feed(text[start : start + size])
    renderer.finish()
    return "\n".join(seen(console))


HTML_BLOCK = 'Before.\n\n<div class="note">\nInside the div\n</div>\n\nAfter.'
DETAILS = "<details>\n<summary>Show the fix</summary>\n\nRestart the **router**.\n\n</details>\n"
INLINE_HTML = "Press <kbd>Ctrl</kbd>+<kbd>C</kbd>, or use <span style='x'>this</span> tag."


@pytest.mark.parametrize("show", [render, stream], ids=["render", "stream"])
def test_an_html_block_is_shown_as_text(show: object) -> None:
    assert callable(show)
    out = show(HTML_BLOCK)
    assert '<div class="note">' in out
    assert "Inside the div" in out
    assert "</div>" in out
    assert out.index("Before.") < out.index("<div") < out.index("</div>") < out.index("After.")


@pytest.mark.parametrize("show", [render, stream], ids=["render", "stream"])
def test_a_details_block_keeps_its_tags_and_its_markdown(show: object) -> None:
    assert callable(show)
    out = show(DETAILS)
    for part in (
        "<details>",
        "<summary>Show the fix</summary>",
        "Restart the router.",
        "</details>",
    ):
        assert part in out, part


@pytest.mark.parametrize("show", [render, stream], ids=["render", "stream"])
def test_inline_html_is_shown_as_text(show: object) -> None:
    assert callable(show)
    out = " ".join(show(INLINE_HTML).split())
    assert out == "Press <kbd>Ctrl</kbd>+<kbd>C</kbd>, or use <span style='x'>this</span> tag."


def test_html_in_a_list_and_in_code_keeps_its_place() -> None:
    out = render("- item\n\n  <div>in the list</div>\n\n```html\n<p>code</p>\n```\n")
    assert "<div>in the list</div>" in out
    assert "<p>code</p>" in out


def test_a_late_think_tag_in_an_answer_is_visible_text() -> None:
    out = render("Reasoning models wrap thoughts like this:\n\n<think>\n\nand close them.")
    assert "<think>" in out
