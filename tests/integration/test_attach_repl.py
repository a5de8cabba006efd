"""``/file``, ``/edit`` and Ctrl-X Ctrl-E in the REPL: a real PromptSession on a pipe, a real
store, the fake server; judged by the lines shown and the request bodies it received."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.faultkit import ReplHarness, repl_harness
from tests.support.images import png_bytes


@pytest.fixture
def harness(server: FakeOpenAIServer, tmp_path: Path) -> Iterator[ReplHarness]:
    with repl_harness(base_url=server.base_url, home=tmp_path / "home") as opened:
        yield opened


def last_user(server: FakeOpenAIServer) -> Any:
    body = server.chat_requests[-1].body
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def plain(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip()]


@pytest.fixture
def workdir() -> Path:
    """The folder the chat runs in (conftest makes a fresh one per test)."""
    return Path.cwd()


def test_file_attaches_to_the_next_message_only(
    harness: ReplHarness, server: FakeOpenAIServer, workdir: Path
) -> None:
    (workdir / "notes.txt").write_text("Dentist on Tuesday.\n")

    step = harness.step("/file notes.txt\r/file\rwhen is the dentist?\r/file\rand lunch?\r")

    shown = plain(step.notices)
    assert shown[0].startswith("attached notes.txt · ~") and shown[0].endswith(" tokens")
    assert shown[1].startswith("notes.txt · ~")
    assert "sent with your next message; /file clear drops them" in shown
    assert "nothing attached (/file PATH attaches a file to your next message)" in shown
    first, second = (r.body["messages"] for r in server.chat_requests)
    assert (
        first[-1]["content"] == "notes.txt\n```\nDentist on Tuesday.\n```\n\nwhen is the dentist?"
    )
    # The next question goes alone; the file stays with the first in the history.
    assert second[-1]["content"] == "and lunch?"
    assert second[1]["content"] == first[-1]["content"]
    stored = harness.store.load_conversation(harness.journal.conversation_id or 0)
    assert [a.name for a in stored.messages[0].attachments] == ["notes.txt"]


def test_quoted_names_with_spaces_and_an_image(
    harness: ReplHarness, server: FakeOpenAIServer, workdir: Path
) -> None:
    (workdir / "my notes.txt").write_text("pay rent\n")
    (workdir / "cat.png").write_bytes(png_bytes(3, 3))

    step = harness.step('/file "my notes.txt" cat.png\rwhat is this?\r')

    assert [line.split(" · ")[0] for line in plain(step.notices)[:2]] == [
        "attached my notes.txt",
        "attached cat.png (image/png)",
    ]
    text, image = last_user(server)
    assert text == {"type": "text", "text": "my notes.txt\n```\npay rent\n```\n\nwhat is this?"}
    assert base64.b64decode(image["image_url"]["url"].split(",", 1)[1]) == png_bytes(3, 3)


def test_a_file_that_cannot_be_attached_is_one_line(
    harness: ReplHarness, server: FakeOpenAIServer, workdir: Path
) -> None:
    (workdir / "blob.bin").write_bytes(b"\x00\x01\x02")

    (workdir / "a folder").mkdir()

    step = harness.step('/file missing.txt\r/file blob.bin\r/file "a folder"\r/file\r')

    assert plain(step.notices) == [
        "error: missing.txt: no such file",
        "error: blob.bin is not a text file or a PNG, JPEG, GIF or WebP image: not attached",
        "error: a folder is a folder: attach the files in it one by one",
        "nothing attached (/file PATH attaches a file to your next message)",
    ]
    assert server.chat_requests == []
    assert harness.stored == []


def test_file_clear_drops_them(
    harness: ReplHarness, server: FakeOpenAIServer, workdir: Path
) -> None:
    (workdir / "a.txt").write_text("a\n")

    step = harness.step("/file a.txt\r/file clear\rplain question\r")

    assert "dropped 1 attachment" in plain(step.notices)
    assert last_user(server) == "plain question"


def test_tab_completes_a_path_after_file(
    harness: ReplHarness, server: FakeOpenAIServer, workdir: Path
) -> None:
    (workdir / "holiday photo.png").write_bytes(png_bytes())

    buffer = harness.prompt.default_buffer

    def wait_for(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)

    def type_keys() -> None:
        # A person presses Tab once the menu shows, and Enter once the name is in.
        harness.pipe.send_text("/file hol")
        wait_for(lambda: bool(buffer.complete_state and buffer.complete_state.completions))
        harness.pipe.send_text("\t")
        wait_for(lambda: buffer.text.endswith('.png"'))
        harness.pipe.send_text("\rlook\r\x04")

    typist = threading.Thread(target=type_keys)
    typist.start()
    try:
        harness.repl.run()
    finally:
        typist.join(timeout=15)
    step_notices = harness.out.getvalue().splitlines()

    assert any(
        line.startswith("attached holiday photo.png (image/png)") for line in plain(step_notices)
    )
    assert last_user(server)[1]["type"] == "image_url"


def test_retry_sends_the_attachments_again(
    harness: ReplHarness, server: FakeOpenAIServer, workdir: Path
) -> None:
    (workdir / "photo.png").write_bytes(png_bytes())
    harness.step("/file photo.png\rdescribe it\r")

    harness.step("/retry\r")

    first, again = (r.body["messages"][-1] for r in server.chat_requests)
    assert again == first and again["content"][1]["type"] == "image_url"


def test_attachments_too_big_together_are_refused_and_stay_attached(
    server: FakeOpenAIServer, tmp_path: Path, workdir: Path
) -> None:
    for name in ("one.txt", "two.txt"):
        (workdir / name).write_text("word " * 1000)
    with repl_harness(
        base_url=server.base_url, home=tmp_path / "home", flags={"context_window": 2048}
    ) as small:
        step = small.step("/file one.txt two.txt\rsummarise both\r/file\r")

    shown = plain(step.notices)
    assert any(line.startswith("together the attachments are about 2,0") for line in shown)
    error = next(line for line in shown if line.startswith("error: That message is about"))
    assert "(one.txt ~1,0" in error and "two.txt ~1,0" in error and "2,048-token context" in error
    assert any(line.startswith("the files are still attached") for line in shown)
    assert [line.split(" · ")[0] for line in shown if " · ~" in line][-2:] == ["one.txt", "two.txt"]
    assert server.chat_requests == []
    assert small.stored == []


def test_loading_a_conversation_names_its_attachments(
    harness: ReplHarness, server: FakeOpenAIServer, workdir: Path
) -> None:
    (workdir / "plan.md").write_text("# Plan\n")
    harness.step("/file plan.md\rreview my plan\r")
    conversation = harness.journal.conversation_id

    step = harness.step(f"/clear\r/load {conversation}\r")

    shown = plain(step.notices)
    at = shown.index("› review my plan")
    assert shown[at + 1] == "attached: plan.md (7 B)"


# -- the editor -----------------------------------------------------------------------


def editor_script(folder: Path, *, appends: str) -> Path:
    """An $EDITOR that appends ``appends`` to the file it is given, then leaves a marker."""
    script = folder / "fake-editor"
    script.write_text(
        f"#!/bin/sh\nprintf '%s\\n' '{appends}' >> \"$1\"\ntouch \"{folder / 'edited'}\"\n"
    )
    script.chmod(0o755)
    return script


def test_edit_puts_the_saved_text_at_the_prompt(
    harness: ReplHarness, server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDITOR", str(editor_script(tmp_path, appends="and more from the editor")))
    monkeypatch.delenv("VISUAL", raising=False)

    # /edit opens the editor on its argument; Enter then sends what was saved.
    harness.step("/edit a draft\r\r")

    assert last_user(server) == "a draft\nand more from the editor"


def test_edit_reports_an_editor_that_fails(
    harness: ReplHarness, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDITOR", "false")
    monkeypatch.delenv("VISUAL", raising=False)

    step = harness.step("/edit draft\r")

    assert plain(step.notices) == [
        "error: the editor false exited with status 1; the input is unchanged"
    ]
    assert server.chat_requests == []


def test_ctrl_x_ctrl_e_edits_the_current_input(
    harness: ReplHarness, server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISUAL", str(editor_script(tmp_path, appends="second line")))
    marker = tmp_path / "edited"

    def type_keys() -> None:
        harness.pipe.send_text("first line\x18\x05")  # Ctrl-X Ctrl-E
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        harness.pipe.send_text("\r\x04")

    typist = threading.Thread(target=type_keys)
    typist.start()
    try:
        assert harness.repl.run() == 0
    finally:
        typist.join(timeout=15)

    assert last_user(server) == "first line\nsecond line"
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("chatbot-*.md*")), "temp file left"


def test_a_model_that_refuses_images_keeps_the_question(
    harness: ReplHarness, server: FakeOpenAIServer, workdir: Path
) -> None:
    (workdir / "chart.png").write_bytes(png_bytes())
    # OpenAI's answer when the model has no vision.
    server.enqueue(
        Reply(
            status=400,
            error_body={
                "error": {
                    "message": "Invalid content type. image_url is only supported by certain "
                    "models.",
                    "type": "invalid_request_error",
                    "param": "messages.[1].content.[1].type",
                    "code": None,
                }
            },
        )
    )

    step = harness.step("/file chart.png\rwhat does it show?\r")

    shown = plain(step.notices)
    assert shown[1:] == [
        f"error: 'gpt-4o-mini' at {server.base_url} does not take images (Invalid content type. "
        "image_url is only supported by certain models.)",
        "your message is kept: /model a vision model, then /retry; or /undo and ask without "
        "the image",
    ]
    assert harness.held == [("user", "what does it show?", "complete")]
    assert harness.stored == harness.held
    assert len(server.chat_requests) == 1
