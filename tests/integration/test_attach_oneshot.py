"""``-f/--file`` and ``-s/--system`` in one-shot mode, judged by what reached the server.

Each run is ``chatbot ...`` in-process through the same ``main`` the shell runs,
against the fake OpenAI-compatible server; the request body the server recorded is
what the model would have read. Bad files: one line, exit 2, nothing sent or stored.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from chatbot.store.database import Store
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.faultkit import OneShot, environment, run_one_shot
from tests.support.images import jpeg_bytes, png_bytes


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def chatbot(
    server: FakeOpenAIServer, home: Path, *args: str, stdin: str = "", **extra: str
) -> OneShot:
    env = {**environment(home, base_url=server.base_url), **extra}
    return run_one_shot(list(args), environ=env, stdin=io.StringIO(stdin))


def last_user(server: FakeOpenAIServer) -> Any:
    body = server.chat_requests[-1].body
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def stored_messages(home: Path) -> list[Any]:
    path = home / "data" / "conversations.sqlite3"
    if not path.exists():
        return []
    with Store.open(path) as store:
        latest = store.latest_conversation_id()
        return [] if latest is None else store.load_conversation(latest).messages


def refused(result: OneShot, server: FakeOpenAIServer, home: Path) -> str:
    """The run stopped with exit 2 and one line; nothing was sent or stored."""
    assert result.code == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert server.chat_requests == []
    assert stored_messages(home) == []
    return lines[0]


# -- what reaches the server --------------------------------------------------------


def test_a_text_file_goes_as_a_fenced_block_before_the_question(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Meeting moved to Friday.\nBring the ```odd``` fences.\n")

    result = chatbot(server, home, "-f", str(notes), "summarise")

    assert result.code == 0, result
    assert last_user(server) == (
        "notes.txt\n````\nMeeting moved to Friday.\nBring the ```odd``` fences.\n````\n\nsummarise"
    )
    assert result.stdout.startswith("You said: notes.txt")
    # Kept with the message: the file in full, the question as typed.
    (question, _reply) = stored_messages(home)
    assert question.content == "summarise"
    assert [a.name for a in question.attachments] == ["notes.txt"]
    assert question.attachments[0].text == notes.read_text()


def test_an_image_goes_as_an_image_url_part(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(4, 4))

    result = chatbot(server, home, "--file", str(photo), "what is in it?")

    assert result.code == 0, result
    content = last_user(server)
    assert content[0] == {"type": "text", "text": "what is in it?"}
    assert content[1]["type"] == "image_url"
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == photo.read_bytes()
    (question, _reply) = stored_messages(home)
    stored = question.attachments[0]
    assert (stored.name, stored.mime, stored.size, stored.data) == (
        "photo.png",
        "image/png",
        photo.stat().st_size,
        photo.read_bytes(),
    )


def test_several_files_of_both_kinds_keep_their_order(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("first\n")
    (tmp_path / "b.jpg").write_bytes(jpeg_bytes())
    (tmp_path / "c.md").write_text("# third\n")

    result = chatbot(
        server,
        home,
        *(
            "-f",
            str(tmp_path / "a.txt"),
            "-f",
            str(tmp_path / "b.jpg"),
            "-f",
            str(tmp_path / "c.md"),
        ),
        "compare",
    )

    assert result.code == 0, result
    text, image = last_user(server)
    assert text["text"] == "a.txt\n```\nfirst\n```\n\nc.md\n```\n# third\n```\n\ncompare"
    assert image["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_stdin_and_a_file_together(server: FakeOpenAIServer, home: Path, tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    log.write_text("E42 disk full\n")

    result = chatbot(server, home, "-f", str(log), "why?", stdin="df says 100%\n")

    assert result.code == 0, result
    assert last_user(server) == "error.log\n```\nE42 disk full\n```\n\ndf says 100%\n\nwhy?"


def test_a_file_alone_is_a_question(server: FakeOpenAIServer, home: Path, tmp_path: Path) -> None:
    task = tmp_path / "task.txt"
    task.write_text("Translate 'bonjour' to English.\n")

    result = chatbot(server, home, "-f", str(task))

    assert result.code == 0, result
    assert last_user(server) == "task.txt\n```\nTranslate 'bonjour' to English.\n```"
    # The conversation is titled by the file, having no question to be titled by.
    with Store.open(home / "data" / "conversations.sqlite3") as store:
        assert store.list_conversations()[0].title == "task.txt"


def test_names_with_spaces_and_unicode(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "Bericht über März 2024.txt"
    odd.write_text("Umsatz: 12 %\n")

    result = chatbot(server, home, "--file", str(odd), "kurz bitte")

    assert result.code == 0, result
    assert last_user(server).startswith("Bericht über März 2024.txt\n```\nUmsatz: 12 %\n```")


def test_a_ten_thousand_line_file_is_sent_whole(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    big = tmp_path / "server.log"
    big.write_text("".join(f"{n:05d} GET /index.html 200\n" for n in range(10_000)))

    result = chatbot(server, home, "-f", str(big), "any errors?")

    assert result.code == 0, result
    sent = last_user(server)
    assert sent.count("\n") >= 10_000
    assert "00000 GET" in sent and "09999 GET /index.html 200\n```\n\nany errors?" in sent


# -- -s/--system ------------------------------------------------------------------


def test_system_replaces_the_persona_prompt_and_keeps_its_settings(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    personas = tmp_path / "personas.toml"
    personas.write_text(
        "[personas.poet]\ndescription = 'verse'\nsystem = 'You answer in verse.'\n"
        "model = 'poet-model'\ntemperature = 1.3\n"
    )

    result = chatbot(
        server, home, "--personas", str(personas), "-p", "poet", "-s", "Answer in one word.", "hi"
    )

    assert result.code == 0, result
    body = server.chat_requests[-1].body
    assert body["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert (body["model"], body["temperature"]) == ("poet-model", 1.3)
    with Store.open(home / "data" / "conversations.sqlite3") as store:
        stored = store.load_conversation(store.latest_conversation_id() or 0)
    assert stored.system_prompt == "Answer in one word."


def test_an_empty_system_prompt_is_a_usage_error(server: FakeOpenAIServer, home: Path) -> None:
    result = chatbot(server, home, "-s", "  ", "hi")
    assert result.code == 2
    assert "the system prompt is empty" in result.stderr
    assert server.chat_requests == []


# -- bad files: one line, exit 2, nothing sent, nothing stored ------------------------


@pytest.mark.parametrize("name", ["nowhere.txt", "Lebenslauf März 2024.txt", "履歴書.md"])
def test_a_missing_file(server: FakeOpenAIServer, home: Path, tmp_path: Path, name: str) -> None:
    missing = tmp_path / name
    line = refused(chatbot(server, home, "-f", str(missing), "hi"), server, home)
    assert line == f"chatbot: {missing}: no such file"


def test_a_binary_file(server: FakeOpenAIServer, home: Path, tmp_path: Path) -> None:
    binary = tmp_path / "a.out"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    line = refused(chatbot(server, home, "-f", str(binary), "hi"), server, home)
    assert line == (
        f"chatbot: {binary} is not a text file or a PNG, JPEG, GIF or WebP image: not attached"
    )


def test_a_folder(server: FakeOpenAIServer, home: Path, tmp_path: Path) -> None:
    line = refused(chatbot(server, home, "-f", str(tmp_path), "hi"), server, home)
    assert line == f"chatbot: {tmp_path} is a folder: attach the files in it one by one"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0)
    line = refused(chatbot(server, home, "-f", str(secret), "hi"), server, home)
    assert line == f"chatbot: {secret}: cannot read it (permission denied)"


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_file_that_cannot_be_read(server: FakeOpenAIServer, home: Path) -> None:
    # A regular file that fails to read even for root: the reader's own memory at 0.
    line = refused(chatbot(server, home, "-f", "/proc/self/mem", "hi"), server, home)
    assert line == "chatbot: /proc/self/mem: cannot read it (input/output error)"


def test_a_file_bigger_than_the_context(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_text("".join(f"{n:05d} GET /index.html 200\n" for n in range(2_000)))
    result = chatbot(server, home, "--context-window", "8192", "-f", str(big), "hi")
    line = refused(result, server, home)
    assert line.startswith(f"chatbot: {big} is about ")
    assert "tokens, more than the " in line and "8,192-token context has for a message" in line
    assert line.endswith("(with 1,024 kept for the reply): not attached")


def test_a_file_far_bigger_than_the_context_is_refused_from_its_size(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_text("".join(f"{n:05d} GET /index.html 200\n" for n in range(10_000)))
    result = chatbot(server, home, "--context-window", "2048", "-f", str(big), "hi")
    line = refused(result, server, home)
    assert line.startswith(f"chatbot: {big} is 260.0 kB (at least ~32,500 tokens), more than ")
    assert "2,048-token context" in line


def test_a_huge_file_is_refused_without_reading_it(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.log"
    with huge.open("wb") as handle:
        handle.truncate(2 * 1024**3)  # 2 GB, sparse: no time or disk to make
    line = refused(chatbot(server, home, "-f", str(huge), "hi"), server, home)
    assert line.startswith(f"chatbot: {huge} is 2.1 GB (at least ~268,435,456 tokens), more ")


def test_files_that_fit_alone_but_not_together(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    for name in ("one.txt", "two.txt"):
        (tmp_path / name).write_text("word " * 4000)
    result = chatbot(
        server,
        home,
        "--context-window",
        "8192",
        "-f",
        str(tmp_path / "one.txt"),
        "-f",
        str(tmp_path / "two.txt"),
        "hi",
    )
    line = refused(result, server, home)
    assert line.startswith("chatbot: That message is about ")
    assert "(one.txt ~4,0" in line and "two.txt ~4,0" in line
    assert "8,192-token context" in line and line.endswith("Nothing was sent.")


def test_one_bad_file_among_good_ones_sends_nothing(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("fine\n")
    result = chatbot(server, home, "-f", str(good), "-f", str(tmp_path / "bad.txt"), "hi")
    assert refused(result, server, home).endswith("bad.txt: no such file")


# -- images the model cannot take ---------------------------------------------------


def test_a_server_that_refuses_images_is_one_line_and_the_question_is_kept(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes())
    # llama.cpp's answer for a model without a vision projector.
    server.enqueue(
        Reply(
            status=500,
            error_body={
                "error": {
                    "code": 500,
                    "message": "image input is not supported - hint: if this is unexpected, "
                    "you may need to provide the mmproj",
                    "type": "server_error",
                }
            },
        )
    )

    result = chatbot(server, home, "-m", "tiny-text-model", "-f", str(photo), "what is it?")

    assert result.code == 1
    assert result.said == [
        f"chatbot: 'tiny-text-model' at {server.base_url} does not take images (image input "
        "is not supported - hint: if this is unexpected, you may need to provide the mmproj)"
    ]
    assert len(server.chat_requests) == 1, "not retried: it would fail the same way"
    (question,) = stored_messages(home)
    assert question.content == "what is it?" and question.attachments[0].name == "photo.png"


# -- stored, resumed, exported, cached ------------------------------------------------


def test_continue_sends_the_earlier_image_again(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(8, 8))
    assert chatbot(server, home, "-f", str(photo), "what colour?").code == 0
    photo.unlink()  # resume must not need the file any more

    assert chatbot(server, home, "-c", "and its size?").code == 0

    first_user = next(m for m in server.chat_requests[-1].body["messages"] if m["role"] == "user")
    assert first_user["content"] == server.chat_requests[0].body["messages"][-1]["content"]
    url = first_user["content"][1]["image_url"]["url"]
    assert base64.b64decode(url.split(",", 1)[1]) == png_bytes(8, 8)


def test_markdown_export_shows_text_as_blocks_and_images_as_links(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    (tmp_path / "code.py").write_text("print('hi')\n")
    (tmp_path / "shot.png").write_bytes(png_bytes())
    run = chatbot(
        server, home, "-f", str(tmp_path / "code.py"), "-f", str(tmp_path / "shot.png"), "review"
    )
    assert run.code == 0

    exported = chatbot(server, home, "export", "1", "--format", "md")

    assert exported.code == 0, exported
    assert "## You\n\ncode.py\n```\nprint('hi')\n```\n\nreview\n\n![shot.png](<shot.png>)" in (
        exported.stdout
    )
    assert "_(image/png, " in exported.stdout


def test_json_export_and_import_keep_the_attachments(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "b.gif").write_bytes(png_bytes())
    assert (
        chatbot(
            server, home, "-f", str(tmp_path / "a.txt"), "-f", str(tmp_path / "b.gif"), "q"
        ).code
        == 0
    )
    exported = tmp_path / "chat.json"
    assert chatbot(server, home, "export", "1", "-f", "json", "-o", str(exported)).code == 0

    assert chatbot(server, home, "import", str(exported)).code == 0

    with Store.open(home / "data" / "conversations.sqlite3") as store:
        original, copy = (store.load_conversation(i).messages[0] for i in (1, 2))
    assert [(a.name, a.kind, a.data) for a in copy.attachments] == [
        (a.name, a.kind, a.data) for a in original.attachments
    ]


def test_the_response_cache_tells_files_apart(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("one\n")
    second.write_text("two\n")
    server.enqueue(Reply(text="about one"), Reply(text="about two"))

    a = chatbot(server, home, "--cache", "-f", str(first), "what is it?")
    b = chatbot(server, home, "--cache", "-f", str(second), "what is it?")
    c = chatbot(server, home, "--cache", "-f", str(first), "what is it?")

    assert (a.stdout, b.stdout, c.stdout) == ("about one\n", "about two\n", "about one\n")
    assert len(server.chat_requests) == 2, "the third is the first again: from the cache"


def test_exports_with_attachments_say_so_in_their_version(
    server: FakeOpenAIServer, home: Path, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("alpha\n")
    assert chatbot(server, home, "plain question").code == 0
    assert chatbot(server, home, "-f", str(tmp_path / "a.txt"), "q").code == 0

    plain = json.loads(chatbot(server, home, "export", "1", "-f", "json").stdout)
    attached = json.loads(chatbot(server, home, "export", "2", "-f", "json").stdout)

    # Older chatbots read version 1; they refuse version 2 instead of losing the files.
    assert (plain["version"], attached["version"]) == (1, 2)
    assert attached["messages"][0]["attachments"] == [
        {
            "name": "a.txt",
            "kind": "text",
            "mime": "text/plain",
            "size": 6,
            "sha256": hashlib.sha256(b"alpha\n").hexdigest(),
            "text": "alpha\n",
        }
    ]
