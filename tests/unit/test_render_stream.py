"""Streamed replies look exactly like a full render, cost linear work, and stay text."""

from __future__ import annotations

import io
import itertools
import random
import re
import subprocess
import sys
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from chatbot.render import ReplyRenderer, make_renderer
from chatbot.render.markdown_stream import MarkdownStreamRenderer, reply_markdown
from chatbot.render.plain import PlainRenderer

WIDTH = 80

SAMPLES = {
    "headings_and_paragraphs": (
        "# Getting started\n\nFirst paragraph with *emphasis*, **bold** and `code`.\n"
        "It wraps over two source lines.\n\n## Details\n\nSecond paragraph.\n\n"
        "Setext heading\n--------------\nFollowed directly by text.\n### Third\nMore text.\n"
    ),
    "nested_lists": (
        "Shopping:\n\n- fruit\n  - apples\n  - pears\n    1. green\n    2. red\n"
        "- vegetables\n  * carrots\n- bread\n\nAfter the list.\n"
    ),
    "loose_numbered_list": (
        "Steps:\n\n"
        + "".join(f"{n}. Step number {n} does one thing.\n\n" for n in range(1, 12))
        + "1) restart\n\n2) at one\n\nDone.\n"
    ),
    "loose_list_with_paragraphs": (
        "- first item\n\n  continued paragraph in the item\n\n- second item\n\n"
        "      indented code in the item\n\n- third\n\nOutside.\n"
    ),
    "table": (
        "| Name | Value |\n|:-----|------:|\n| alpha | 1 |\n| beta | 22 |\n| 日本 | 333 |\n\n"
        "| solo |\n|------|\n| row |\nText after.\n"
    ),
    "code_fences": (
        "Here is code:\n\n```python\ndef f(x):\n    return x + 1\n\n\nprint(f(2))\n```\n\n"
        "````markdown\n```\nnested fence\n```\n````\nRight after the fence.\n\n"
        "~~~\ntilde fence\n\n~~~\n"
    ),
    "fence_in_list": (
        "1. Install:\n\n   ```bash\n   pip install x\n\n   x --help\n   ```\n\n"
        "2. Run it.\n\n3. Enjoy.\n"
    ),
    "long_fence": (
        "Long listing:\n\n```\n" + "".join(f"line {n}\n" for n in range(40)) + "```\n\nThe end.\n"
    ),
    "unclosed_fence": "Intro.\n\n```js\nconsole.log(1)\n\nstill code",
    "cjk": (
        "# 日本語の見出し\n\nこれは日本語の段落です。中文段落也在这里。한국어 문장도 있습니다。\n\n"
        "- 項目一\n- 項目二\n\n終わり。\n"
    ),
    "mixed_blocks": (
        "Intro paragraph.\n\n---\n\n> A quote\n> over lines\n\n> Another quote\n\n"
        "![diagram](http://x/y.png)\n\n***\n\n- after rule\n\n<div>\nhtml\n\nblock\n</div>\n\n"
        "    indented code\n\n    more code\n\nFinal [link](http://example.com) text."
    ),
    "html_blocks": (
        "Before.\n\n<pre>\nkeep\n\nthis together\n</pre>\n\n<!-- a comment\n\n"
        "that spans blank lines -->\n\nAfter.\n"
    ),
    "fence_marker_in_indented_code": (
        "Text.\n\n    ```\n    not a fence\n\n```\nreal fence\n\nstill fence\n```\nAfter.\n"
    ),
    "no_trailing_newline": "Just one paragraph without a newline at the end",
}


def console(*, terminal: bool, height: int = 25, width: int = WIDTH) -> Console:
    return Console(
        file=io.StringIO(),
        width=width,
        height=height,
        force_terminal=terminal,
        color_system=None,
        legacy_windows=False,
    )


def full_render(text: str, *, width: int = WIDTH) -> str:
    reference = console(terminal=False, width=width)
    reference.print(reply_markdown(text))
    output = reference.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def output_of(target: Console) -> str:
    output = target.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def split_at(text: str, cuts: Iterable[int]) -> list[str]:
    points = sorted({0, len(text), *(c for c in cuts if 0 <= c <= len(text))})
    return [text[a:b] for a, b in itertools.pairwise(points)]


class FakeClock:
    """Time that moves only when a chunk arrives, so throttling is deterministic."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.step


def stream(
    text_chunks: Iterable[str], target: Console, *, step: float = 0.01
) -> MarkdownStreamRenderer:
    clock = FakeClock(step)
    renderer = MarkdownStreamRenderer(console=target, clock=clock)
    for chunk in text_chunks:
        clock.tick()
        renderer.feed(chunk)
    renderer.finish()
    return renderer


class Screen:
    """Just enough of a terminal to replay what the renderer writes.

    Rows are kept after they scroll away, so ``text()`` is the scrollback. Moving the
    cursor above the top of the visible screen is an error: a real terminal cannot
    go there, and that is how a live display corrupts scrollback.
    """

    _CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n")

    def __init__(self, height: int) -> None:
        self.height = height
        self.rows = [""]
        self.row = 0
        self.column = 0
        self.lowest = 0

    def play(self, data: str) -> Screen:
        position = 0
        for match in self._CONTROL.finditer(data):
            self._put(data[position : match.start()])
            position = match.end()
            self._control(match.group())
        self._put(data[position:])
        return self

    def _control(self, code: str) -> None:
        if code == "\n":
            self.row += 1
            self.column = 0
            if self.row == len(self.rows):
                self.rows.append("")
            self.lowest = max(self.lowest, self.row)
        elif code == "\r":
            self.column = 0
        elif code == "\x1b[2K":
            self.rows[self.row] = ""
        elif code.endswith("A"):
            self.row -= int(code[2:-1] or 1)
            top = self.lowest - self.height + 1
            assert self.row >= top, "cursor moved above the top of the screen"
        elif code not in ("\x1b[?25l", "\x1b[?25h"):
            raise AssertionError(f"unexpected control sequence {code!r}")

    def _put(self, text: str) -> None:
        line = self.rows[self.row]
        line = line.ljust(self.column)
        self.rows[self.row] = line[: self.column] + text + line[self.column + len(text) :]
        self.column += len(text)

    def text(self) -> str:
        return normalise("\n".join(self.rows))

    def visible(self) -> list[str]:
        """The rows on screen now, from the top down to the cursor."""
        top = max(0, self.row - self.height + 1)
        return [row.rstrip() for row in self.rows[top : self.row + 1]]


def normalise(rendered: str) -> str:
    """Drop trailing spaces and blank lines at the end: invisible on a terminal."""
    return "\n".join(line.rstrip() for line in rendered.split("\n")).rstrip("\n")


# --- output matches a full render -------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 17, 10_000])
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_streamed_output_equals_full_render(name: str, size: int) -> None:
    text = SAMPLES[name]
    target = console(terminal=False)
    stream(pieces(text, size), target)
    assert output_of(target) == full_render(text)


@pytest.mark.parametrize("name", ["code_fences", "fence_in_list", "loose_numbered_list"])
def test_split_at_every_boundary(name: str) -> None:
    text = SAMPLES[name]
    expected = full_render(text)
    for cut in range(len(text) + 1):
        target = console(terminal=False)
        stream([text[:cut], text[cut:]], target)
        assert output_of(target) == expected, f"split at {cut}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=40),
)
def test_random_chunking_equals_full_render(name: str, cuts: list[int]) -> None:
    text = SAMPLES[name]
    target = console(terminal=False)
    stream(split_at(text, cuts), target)
    assert output_of(target) == full_render(text)


def test_blocks_are_printed_as_they_finish() -> None:
    target = console(terminal=False)
    renderer = MarkdownStreamRenderer(console=target)
    renderer.feed("# Title\n")
    assert "Title" in output_of(target)
    renderer.feed("First paragraph.\n\n")
    assert "First paragraph" not in output_of(target)
    renderer.feed("Sec")
    assert "First paragraph" in output_of(target)
    assert "Sec" not in output_of(target)
    renderer.finish()
    assert output_of(target) == full_render("# Title\nFirst paragraph.\n\nSec")


def test_list_is_not_split_between_loose_items() -> None:
    # Printing item 9 alone would number it 1 and pad it differently.
    text = "".join(f"{n}. item\n\n" for n in range(8, 12))
    target = console(terminal=False)
    renderer = MarkdownStreamRenderer(console=target)
    for chunk in pieces(text, 4):
        renderer.feed(chunk)
    assert output_of(target) == ""
    renderer.finish()
    assert output_of(target) == full_render(text)


def test_finish_is_idempotent() -> None:
    target = console(terminal=False)
    renderer = MarkdownStreamRenderer(console=target)
    renderer.feed("Some *text*")
    renderer.finish()
    once = output_of(target)
    renderer.finish()
    assert output_of(target) == once == full_render("Some *text*")
    with pytest.raises(RuntimeError):
        renderer.feed("more")


def test_empty_reply_prints_nothing() -> None:
    target = console(terminal=True)
    stream(["", "\n\n", "  "], target)
    assert output_of(target) == ""


# --- terminal: live tail, scrollback ------------------------------------------------------


@pytest.mark.parametrize("size", [1, 5])
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_terminal_scrollback_equals_full_render(name: str, size: int) -> None:
    text = SAMPLES[name]
    target = console(terminal=True, height=10)
    stream(pieces(text, size), target, step=0.05)
    # Screen also checks the live area never reached above the top of the screen.
    assert Screen(10).play(output_of(target)).text() == normalise(full_render(text))


def test_interrupted_reply_keeps_what_arrived() -> None:
    arrived = "Intro.\n\n```python\nfor i in range(3):\n    print("
    target = console(terminal=True, height=10)
    renderer = MarkdownStreamRenderer(console=target, clock=FakeClock(1.0))
    for chunk in pieces(arrived, 3):
        renderer.feed(chunk)
    renderer.finish()  # what the chat loop does on Ctrl-C
    assert Screen(10).play(output_of(target)).text() == normalise(full_render(arrived))


def test_tall_block_shows_its_latest_lines_while_streaming() -> None:
    height = 8
    target = console(terminal=True, height=height)
    clock = FakeClock(1.0)
    renderer = MarkdownStreamRenderer(console=target, clock=clock)
    renderer.feed("Listing:\n\n```\n")
    for n in range(30):
        clock.tick()
        renderer.feed(f"line {n}\n")
        visible = Screen(height).play(output_of(target)).visible()
        assert any(row.strip() == f"line {n}" for row in visible), n
    renderer.finish()


def test_interrupted_tall_block_is_left_whole_in_scrollback() -> None:
    arrived = "Listing:\n\n```\n" + "".join(f"line {n}\n" for n in range(30))
    height = 8
    target = console(terminal=True, height=height)
    renderer = MarkdownStreamRenderer(console=target, clock=FakeClock(1.0))
    for chunk in pieces(arrived, 7):
        renderer.feed(chunk)
    renderer.finish()
    assert Screen(height).play(output_of(target)).text() == normalise(full_render(arrived))


def test_block_taller_than_screen_never_damages_scrollback() -> None:
    text = SAMPLES["long_fence"] + SAMPLES["loose_numbered_list"]
    height = 8
    target = console(terminal=True, height=height)
    stream(pieces(text, 2), target, step=1.0)  # refresh on every chunk: the worst case
    assert Screen(height).play(output_of(target)).text() == normalise(full_render(text))


def test_refreshes_are_throttled() -> None:
    text = "A paragraph that keeps growing " * 20
    fast = console(terminal=True)
    stream(pieces(text, 2), fast, step=0.001)  # 1,000 chunks a second
    slow = console(terminal=True)
    stream(pieces(text, 2), slow, step=1.0)  # one chunk a second
    redraws = output_of(fast).count("\x1b[2K")
    assert redraws < output_of(slow).count("\x1b[2K") / 10


def generated_reply(blocks: int, *, seed: int = 0) -> str:
    """A typical long reply: sections with prose, lists, code and tables."""
    rng = random.Random(seed)
    words = ["the", "model", "streams", "tokens", "while", "terminal", "renders", "blocks"]

    def sentence(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n)).capitalize() + "."

    parts: list[str] = []
    for index in range(blocks):
        kind = index % 5
        if kind == 0:
            parts.append(f"## Section {index}")
        elif kind == 1:
            parts.append(" ".join(sentence(rng.randint(6, 14)) for _ in range(4)))
        elif kind == 2:
            parts.append("\n".join(f"{n}. {sentence(6)}" for n in range(1, 5)))
        elif kind == 3:
            body = "\n".join(f"value_{n} = compute({n})" for n in range(rng.randint(3, 9)))
            parts.append(f"```python\n{body}\n```")
        else:
            rows = "\n".join(f"| {sentence(2)} | {n} |" for n in range(3))
            parts.append(f"| name | n |\n|---|---|\n{rows}")
    return "\n\n".join(parts) + "\n"


def token_chunks(text: str) -> list[str]:
    """Roughly what a server sends: a word with its leading whitespace per chunk."""
    return re.findall(r"\s*\S+|\s+", text)


def test_bytes_written_stay_close_to_the_final_render() -> None:
    reply = generated_reply(85)
    chunks = token_chunks(reply)
    assert 1_800 <= len(chunks) <= 2_600  # about 2,000 tokens
    target = console(terminal=True, height=24)
    # A fast server: 2,000 chunks in about 10 seconds, so about 120 live refreshes.
    stream(chunks, target, step=0.005)
    written = output_of(target)
    final = full_render(reply)
    assert Screen(24).play(written).text() == normalise(final)
    assert len(written) < 3 * len(final)


# --- linear work ---------------------------------------------------------------------------


def parse_work(reply: str, *, terminal: bool) -> tuple[int, int]:
    """Total characters parsed, and the most parsed for one chunk."""
    clock = FakeClock(1.0)  # on a terminal, a refresh on every chunk: the most work
    renderer = MarkdownStreamRenderer(console=console(terminal=terminal), clock=clock)
    most = 0
    for chunk in token_chunks(reply):
        before = renderer.parsed_chars
        clock.tick()
        renderer.feed(chunk)
        most = max(most, renderer.parsed_chars - before)
    renderer.finish()
    return renderer.parsed_chars, most


def largest_block(reply: str) -> int:
    return max(len(block) for block in reply.split("\n\n"))


def test_work_is_linear_in_reply_length() -> None:
    reply = generated_reply(350)
    assert len(token_chunks(reply)) >= 8_000
    work, most_per_chunk = parse_work(reply, terminal=False)
    double_work, _ = parse_work(reply + generated_reply(350, seed=1), terminal=False)
    assert work < 3 * len(reply)
    assert double_work < 2.2 * work
    # No chunk parses more than the tail a few times, however long the reply is.
    assert most_per_chunk < 3 * largest_block(reply) < len(reply) / 40


def test_live_refresh_work_is_bounded_by_the_tail() -> None:
    reply = generated_reply(100)
    work, most_per_chunk = parse_work(reply, terminal=True)
    assert most_per_chunk < 3 * largest_block(reply) < len(reply) / 10
    # Linear: proportional to chunks times a block, not to the reply's length squared.
    assert work < len(token_chunks(reply)) * largest_block(reply)


# --- model output stays text ---------------------------------------------------------------

HOSTILE = (
    "Sure!\x1b]52;c;cm0gLXJmIH4=\x07 Here is \x1b[31mred\x1b[0m and a "
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\.\x1b[2J\x1b[H\n\n"
    "\x1b]0;pwned\x07```\ncode \x9b2J here\x9d52;c;eA==\x07\x07\x00\n```\n\nbye\r\n"
)


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_escape_sequences_never_reach_the_output(size: int) -> None:
    plain_target = console(terminal=False)
    stream(pieces(HOSTILE, size), plain_target)
    plain = output_of(plain_target)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", plain)
    for shown in ("Sure!", "red", "link", "code  here", "bye"):
        assert shown in plain

    live_target = console(terminal=True)
    stream(pieces(HOSTILE, size), live_target, step=1.0)
    live = output_of(live_target)
    assert "\x1b]" not in live
    # The only controls left are the live display's own cursor movements.
    assert not re.sub(r"\x1b\[(?:\?25[hl]|1A|2K)|\r", "", live).count("\x1b")
    assert Screen(25).play(live).text() == normalise(plain)


# --- plain renderer and the factory --------------------------------------------------------


def test_plain_renderer_writes_raw_text_as_it_arrives() -> None:
    out = io.StringIO()
    renderer = PlainRenderer(file=out)
    renderer.feed("# Not rendered\n\n| a | b |\n")
    assert out.getvalue() == "# Not rendered\n\n| a | b |\n"
    renderer.feed("a very long line " * 20)
    renderer.feed("\x1b[2Jend\x1b]52;c;eA==")
    renderer.finish()
    renderer.finish()
    assert out.getvalue() == ("# Not rendered\n\n| a | b |\n" + "a very long line " * 20 + "end\n")


def test_plain_renderer_adds_no_blank_line() -> None:
    ends_with_newline = io.StringIO()
    renderer = PlainRenderer(file=ends_with_newline)
    renderer.feed("done\n")
    renderer.finish()
    assert ends_with_newline.getvalue() == "done\n"
    empty = io.StringIO()
    PlainRenderer(file=empty).finish()
    assert empty.getvalue() == ""


class CountingFile(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def test_plain_renderer_flushes_every_chunk() -> None:
    out = CountingFile()
    renderer = PlainRenderer(file=out)
    for chunk in ("one ", "two ", "three"):
        renderer.feed(chunk)
    assert out.flushes >= 3


def test_make_renderer_picks_by_mode() -> None:
    target = console(terminal=False)
    markdown = make_renderer(console=target, markdown=True)
    assert isinstance(markdown, MarkdownStreamRenderer)

    plain = make_renderer(console=target, markdown=False)
    assert isinstance(plain, PlainRenderer)
    plain.feed("**raw**")
    plain.finish()
    assert output_of(target) == "**raw**\n"

    elsewhere = io.StringIO()
    chosen: ReplyRenderer = make_renderer(console=target, markdown=False, file=elsewhere)
    chosen.feed("x")
    chosen.finish()
    assert elsewhere.getvalue() == "x\n"


def test_package_import_does_not_load_rich() -> None:
    code = "import sys, chatbot.render; sys.exit('rich' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_links_show_their_target_instead_of_hiding_it() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system="truecolor")
    renderer = MarkdownStreamRenderer(console=console)
    renderer.feed("Click [here](https://evil.example/steal) now.\n\n")
    renderer.finish()
    text = out.getvalue()
    assert "\x1b]8;" not in text  # no OSC 8 hyperlink with an invisible target
    assert "https://evil.example/steal" in text
