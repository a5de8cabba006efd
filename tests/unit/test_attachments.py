"""Attachments: sniffing by content, the fence rule, and the request shapes the SDK takes."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pydantic import TypeAdapter

from chatbot.conversation.attachments import (
    Attachment,
    AttachmentKind,
    api_content,
    fence_for,
    image_dimensions,
    load_attachment,
    message_text,
    sniff,
    text_block,
)
from chatbot.conversation.messages import Message, Role
from chatbot.conversation.token_counter import TokenCounter
from chatbot.errors import AttachmentError, ConfigError
from chatbot.tokens import IMAGE_TOKENS_UNKNOWN_SIZE, image_tokens
from tests.support.images import gif_bytes, jpeg_bytes, png_bytes, webp_bytes

# -- sniffing: by content, never by name ------------------------------------------


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (png_bytes(), "image/png"),
        (jpeg_bytes(), "image/jpeg"),
        (gif_bytes(), "image/gif"),
        (webp_bytes(), "image/webp"),
    ],
)
def test_images_are_known_by_their_magic_bytes(data: bytes, mime: str) -> None:
    assert sniff(data) == (AttachmentKind.IMAGE, mime)


@pytest.mark.parametrize(
    "text",
    ["plain words\n", "", "日本語のテキスト\n", "tabs\tand\r\nCRLF", "\x1b[31m escape codes too"],
)
def test_valid_utf8_without_nul_is_text(text: str) -> None:
    assert sniff(text.encode("utf-8")) == (AttachmentKind.TEXT, "text/plain")


@pytest.mark.parametrize(
    "data",
    [
        b"ELF\x00\x01\x02binary",  # a NUL byte
        "café".encode("latin-1"),  # not UTF-8
        "hi".encode("utf-16"),  # UTF-16 has NULs
        b"RIFF\x00\x00\x00\x00WAVEfmt ",  # RIFF but not WebP
        bytes(range(256)),
    ],
)
def test_binary_is_neither(data: bytes) -> None:
    assert sniff(data) is None


@given(
    st.text().filter(lambda s: "\x00" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s))
)
def test_any_text_without_nul_is_text(text: str) -> None:
    assert sniff(text.encode("utf-8")) is not None


def test_the_extension_does_not_decide(tmp_path: Path) -> None:
    disguised = tmp_path / "photo.png"
    disguised.write_text("I am really text\n")
    real = tmp_path / "notes.txt"
    real.write_bytes(png_bytes())
    assert load_attachment(disguised).kind is AttachmentKind.TEXT
    assert load_attachment(real).kind is AttachmentKind.IMAGE
    assert load_attachment(real).mime == "image/png"


def test_a_utf8_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfhello")
    assert load_attachment(path).text == "hello"


# -- the fence rule -----------------------------------------------------------------


def test_the_fence_is_longer_than_any_backtick_run() -> None:
    assert fence_for("no backticks") == "```"
    assert fence_for("inline `code` only") == "```"
    assert fence_for("```python\nx\n```") == "````"
    assert fence_for("a ````` run of five") == "``````"


_MARKDOWN = MarkdownIt("commonmark")


@given(st.text(alphabet=st.sampled_from("`~ a\n\tx#>-*")))
def test_a_text_block_is_one_code_block_holding_the_file_exactly(body: str) -> None:
    block = text_block(Attachment.from_bytes("f.md", body.encode()))
    tokens = [t for t in _MARKDOWN.parse(block) if t.type == "fence"]
    assert len(tokens) == 1, block
    expected = body if body.endswith("\n") or not body else body + "\n"
    assert tokens[0].content == expected


def test_a_text_block_is_headed_by_the_file_name() -> None:
    block = text_block(Attachment.from_bytes("my notes.txt", b"line one\nline two\n"))
    assert block == "my notes.txt\n```\nline one\nline two\n```"


# -- what goes on the wire ----------------------------------------------------------


def sdk_accepts(message: dict[str, object]) -> None:
    """Validate ``message`` against the openai SDK's types for a user message.

    pydantic does not look inside ``Iterable[...]`` fields, so a list of parts
    is checked against the SDK's content-part type on its own.
    """
    from openai.types.chat import ChatCompletionContentPartParam, ChatCompletionUserMessageParam

    TypeAdapter(ChatCompletionUserMessageParam).validate_python(message, strict=True)
    content = message["content"]
    if isinstance(content, list):
        TypeAdapter(list[ChatCompletionContentPartParam]).validate_python(content, strict=True)


def test_the_sdk_check_itself_rejects_wrong_shapes() -> None:
    from pydantic import ValidationError

    for wrong in (
        [{"type": "image_url", "image_url": "data:image/png;base64,AAAA"}],
        [{"type": "image", "url": "x"}],
        [{"type": "text"}],
    ):
        with pytest.raises(ValidationError):
            sdk_accepts({"role": "user", "content": wrong})


def text_file(name: str, text: str) -> Attachment:
    return Attachment.from_bytes(name, text.encode())


def image_file(name: str, data: bytes) -> Attachment:
    return Attachment.from_bytes(name, data)


def test_text_only_stays_a_string() -> None:
    message = Message(role=Role.USER, content="summarise", attachments=(text_file("a.txt", "A"),))
    wire = message.to_api()
    assert wire == {"role": "user", "content": "a.txt\n```\nA\n```\n\nsummarise"}
    sdk_accepts(wire)


def test_no_attachments_is_exactly_as_before() -> None:
    wire = Message(role=Role.USER, content="hello").to_api()
    assert wire == {"role": "user", "content": "hello"}
    sdk_accepts(wire)


def test_text_plus_images_is_a_list_of_parts_text_first() -> None:
    png, jpeg = png_bytes(), jpeg_bytes()
    message = Message(
        role=Role.USER,
        content="what is in these?",
        attachments=(
            image_file("a.png", png),
            text_file("n.txt", "notes"),
            image_file("b.jpg", jpeg),
        ),
    )
    wire = message.to_api()
    sdk_accepts(wire)
    parts = wire["content"]
    assert isinstance(parts, list)
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert parts[0]["text"] == "n.txt\n```\nnotes\n```\n\nwhat is in these?"
    assert parts[1]["image_url"] == {
        "url": "data:image/png;base64," + base64.b64encode(png).decode()
    }
    assert parts[2]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(parts[2]["image_url"]["url"].split(",", 1)[1]) == jpeg


def test_several_files_keep_their_order_before_the_question() -> None:
    files = [text_file(f"{n}.txt", f"file {n}\n") for n in ("one", "two", "three")]
    text = message_text("compare them", files)
    assert text.index("one.txt") < text.index("two.txt") < text.index("three.txt")
    assert text.endswith("\n\ncompare them")
    sdk_accepts({"role": "user", "content": api_content("compare them", files)})


def test_an_image_alone_has_no_empty_text_part() -> None:
    parts = api_content("", [image_file("a.gif", gif_bytes())])
    assert isinstance(parts, list) and [p["type"] for p in parts] == ["image_url"]
    sdk_accepts({"role": "user", "content": parts})


# -- the image budget estimate ----------------------------------------------------


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (png_bytes(3, 5), (3, 5)),
        (gif_bytes(7, 9), (7, 9)),
        (jpeg_bytes(640, 480), (640, 480)),
        (webp_bytes(300, 200), (300, 200)),
    ],
)
def test_image_sizes_are_read_from_headers(data: bytes, size: tuple[int, int]) -> None:
    assert image_dimensions(data) == size


def test_image_tokens_follow_openais_high_detail_rule() -> None:
    assert image_tokens(1024, 1024) == 765  # OpenAI's own worked example
    assert image_tokens(2048, 4096) == 1105  # scaled to 768x1536: 6 tiles
    assert image_tokens(100, 100) == 255  # small images are not scaled up: one tile


def test_an_image_counts_against_the_budget() -> None:
    counter = TokenCounter()
    plain = Message(role=Role.USER, content="look")
    with_image = Message(
        role=Role.USER, content="look", attachments=(image_file("a.png", png_bytes(1024, 1024)),)
    )
    assert counter.message_tokens(with_image) - counter.message_tokens(plain) == 765
    unreadable = Attachment(
        name="x.png", kind=AttachmentKind.IMAGE, mime="image/png", data=b"\x89PNG\r\n\x1a\n"
    )
    odd = Message(role=Role.USER, content="look", attachments=(unreadable,))
    assert counter.message_tokens(odd) - counter.message_tokens(plain) == IMAGE_TOKENS_UNKNOWN_SIZE


# -- refusals: one line naming the file -------------------------------------------


def refusal(path: Path, **kwargs: int) -> str:
    with pytest.raises(AttachmentError) as caught:
        load_attachment(path, **kwargs)
    assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 2
    text = str(caught.value)
    assert "\n" not in text
    return text


def test_refusals_name_the_file(tmp_path: Path) -> None:
    binary = tmp_path / "program.bin"
    binary.write_bytes(b"\x7fELF\x00\x00")
    assert refusal(binary) == (
        f"{binary} is not a text file or a PNG, JPEG, GIF or WebP image: not attached"
    )
    assert refusal(tmp_path / "gone.txt") == f"{tmp_path / 'gone.txt'}: no such file"
    assert "is a folder" in refusal(tmp_path)
    big = tmp_path / "big.log"
    big.write_text("word " * 5000)
    assert "far more than this model's context holds" in refusal(big, max_text_bytes=1000)


def test_a_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert refusal(fifo) == f"{fifo} is not a regular file"
