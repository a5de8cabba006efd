"""Attachments over a conversation's life: the budget, the store, /undo, and the debug log."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from chatbot.api.scripted import ScriptedBackend
from chatbot.cli import main
from chatbot.conversation.attachments import Attachment
from chatbot.conversation.session import ChatSession
from chatbot.errors import StoreError
from chatbot.settings.config import resolve_config
from chatbot.settings.personas import load_personas
from chatbot.store.database import Store
from chatbot.store.journal import StoreJournal
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.helpers import RecordingRenderer
from tests.support.images import png_bytes


def scripted_session(
    *, window: int, journal: StoreJournal | None = None
) -> tuple[ChatSession, ScriptedBackend]:
    backend = ScriptedBackend()
    config = resolve_config(
        flags={"base_url": "http://127.0.0.1:9/v1", "context_window": window},
        env={"OPENAI_API_KEY": "sk-test"},
    )
    session = ChatSession(
        config=config, persona=load_personas().get("default"), backend=backend, journal=journal
    )
    return session, backend


def test_a_file_leaves_the_context_whole_never_cut(tmp_path: Path) -> None:
    session, backend = scripted_session(window=2048)
    # About 600 tokens, with a last line that must never arrive without the first.
    lines = [f"line {n:03d} of the report" for n in range(120)]
    report = Attachment.from_bytes("report.txt", ("\n".join(lines) + "\nTHE END\n").encode())
    session.send("summarise", renderer=RecordingRenderer(), attachments=[report])
    for n in range(12):
        session.send(f"question {n} " + "padding " * 60, renderer=RecordingRenderer())

    with_file = [
        r for r in backend.requests if any("report.txt" in str(m["content"]) for m in r.messages)
    ]
    without = [r for r in backend.requests if r not in with_file]
    assert with_file and without, "the file was sent, then left out as the chat grew"
    for request in with_file:
        text = next(
            str(m["content"]) for m in request.messages if "report.txt" in str(m["content"])
        )
        assert "line 000 of the report" in text and "THE END" in text
    for request in without:
        assert not any(
            "line " in str(m["content"]) and "of the report" in str(m["content"])
            for m in request.messages
        )


def test_undo_and_retry_leave_no_attachment_rows(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store.sqlite3")
    session, backend = scripted_session(window=8192, journal=StoreJournal(store))
    image = Attachment.from_bytes("a.png", png_bytes())
    session.send("look", renderer=RecordingRenderer(), attachments=[image])
    session.retry(renderer=RecordingRenderer())
    assert backend.requests[0].messages[-1] == backend.requests[1].messages[-1]

    def rows() -> int:
        with sqlite3.connect(tmp_path / "store.sqlite3") as raw:
            return int(raw.execute("SELECT count(*) FROM attachments").fetchone()[0])

    assert rows() == 1, "the retried question keeps its one image"
    session.undo()
    assert rows() == 0
    store.close()


def test_a_damaged_attachment_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = Store.open(path)
    session, _ = scripted_session(window=8192, journal=StoreJournal(store))
    session.send(
        "look",
        renderer=RecordingRenderer(),
        attachments=[Attachment.from_bytes("a.png", png_bytes())],
    )
    conversation = session.journal.conversation_id  # type: ignore[attr-defined]
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE attachments SET data = X'89504E470D0A1A0A00'")
    raw.close()

    with pytest.raises(StoreError) as caught:
        store.load_conversation(conversation)
    assert str(path) in str(caught.value) and "a.png" in str(caught.value)
    store.close()


def test_the_debug_log_keeps_image_sizes_not_their_bytes(
    server: FakeOpenAIServer, isolated_environment: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(64, 64) + b"x" * 3000)
    environ = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": server.base_url,
        "CHATBOT_CONFIG_DIR": str(isolated_environment / "config"),
        "CHATBOT_DATA_DIR": str(isolated_environment / "data"),
        "CHATBOT_LOCAL": "0",
    }
    code = main(
        ["--debug", "-f", str(photo), "what?"],
        environ=environ,
        stdin=io.StringIO(""),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert code == 0
    log = (isolated_environment / "data" / "debug.log").read_text()
    request = next(json.loads(line) for line in log.splitlines() if '"request"' in line)
    url = request["messages"][-1]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,<") and url.endswith(" characters>")
    assert len(log) < 2000
