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
from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.conversation.session import ChatSession
from chatbot.errors import StoreError
from chatbot.settings.config import ConfigFlags, resolve_config
from chatbot.settings.personas import load_personas
from chatbot.store.database import Store
from chatbot.store.export import from_json, to_json, to_markdown
from chatbot.store.schema import schema_version
from chatbot.store.store_journal import StoreJournal, conversation_from_store
from chatbot.store.thinking_params import thinking_params
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.helpers import RecordingRenderer
from tests.support.images import png_bytes
from tests.support.old_stores import OldMessage, write_old_store


def scripted_session(
    *, window: int, journal: StoreJournal | None = None
) -> tuple[ChatSession, ScriptedBackend]:
    backend = ScriptedBackend()
    config = resolve_config(
        flags=ConfigFlags(base_url="http://127.0.0.1:9/v1", context_window=window),
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


def test_a_version_3_store_gains_attachments_and_searches_their_text(tmp_path: Path) -> None:
    """The attachments migration (4) runs on a store that already has the FTS index (3)."""

    db = tmp_path / "conversations.sqlite3"
    [cid] = write_old_store(
        db,
        version=3,
        conversations=[
            (
                "old chat",
                [
                    OldMessage(role="user", content="about the quarterly budget"),
                    OldMessage(role="assistant", content="sure"),
                ],
            )
        ],
    )
    report = Attachment.from_bytes("report.txt", b"zebra **migration** numbers\n")
    chart = Attachment.from_bytes("chart.png", png_bytes())
    question = Message(role=Role.USER, content="look at this", attachments=(report, chart))
    with Store.open(db) as store:
        store.append_message(cid, question, persona="p", model="m1")
        # The index of version 3 still answers, and now reads the attached text too.
        assert [h.info.id for h in store.search_conversations("quarterly").hits] == [cid]
        [hit] = store.search_conversations("zebra migration").hits
        assert hit.info.id == cid
        assert hit.snippet == "report.txt: zebra migration numbers"
        assert [h.info.id for h in store.search_conversations("ze").hits] == [cid]
        loaded = store.load_conversation(cid)
        assert loaded.messages[-1].attachments == (report, chart)
        # A resumed window brings the files of the messages it holds.
        windowed = store.load_conversation(cid, window_tokens=1)
        assert windowed.messages[-1].attachments == (report, chart)
        assert question.id is not None
        store.delete_messages([question.id])
        assert store.search_conversations("zebra").hits == []
        assert [h.info.id for h in store.search_conversations("quarterly").hits] == [cid]
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == schema_version()
        assert raw.execute("SELECT count(*) FROM attachments").fetchone()[0] == 0
        for index in ("message_index", "title_index", "attachment_index"):
            raw.execute(f"INSERT INTO {index}({index}) VALUES ('integrity-check')")
    raw.close()


def test_export_and_import_keep_thinking_endings_and_files(tmp_path: Path) -> None:
    """JSON carries what both sides added: thinking and endings in params, files beside."""

    notes = Attachment.from_bytes("notes.md", b"# Notes\nthe plan\n")
    chart = Attachment.from_bytes("chart.png", png_bytes())
    reply = Message(
        role=Role.ASSISTANT,
        content="partial",
        status=ReplyStatus.ABNORMAL,
        thinking="let me see",
        thinking_tokens=7,
        finish_reason="abort",
    )
    tools = Message(
        role=Role.ASSISTANT, content="", status=ReplyStatus.TOOL_CALLS, tool_names=("search",)
    )
    with Store.open(tmp_path / "conversations.sqlite3") as store:
        cid = store.create_conversation(persona="p", model="m", system_prompt="s")
        store.append_message(
            cid,
            Message(role=Role.USER, content="read these", attachments=(notes, chart)),
            persona="p",
            model="m",
        )
        store.append_message(
            cid,
            reply,
            persona="p",
            model="m",
            params={**thinking_params(reply), "finish_reason": "abort"},
        )
        store.append_message(cid, Message(role=Role.USER, content="again"), persona="p", model="m")
        store.append_message(cid, tools, persona="p", model="m", params={"tool_names": ["search"]})
        exported = to_json(store.load_conversation(cid, window_tokens=None))
        assert exported["version"] == 2
        data = json.loads(json.dumps(exported))
        again = store.load_conversation(store.import_conversation(from_json(data)))
    messages = conversation_from_store(again).messages
    assert messages[0].attachments == (notes, chart)
    assert (messages[1].thinking, messages[1].thinking_tokens) == ("let me see", 7)
    assert (messages[1].status, messages[1].finish_reason) == (ReplyStatus.ABNORMAL, "abort")
    assert (messages[3].status, messages[3].tool_names) == (ReplyStatus.TOOL_CALLS, ("search",))
    # Thinking is shown in the transcript but never sent back; images make parts.
    assert "<details><summary>Thinking</summary>" in to_markdown(again)
    assert messages[1].to_api() == {"role": "assistant", "content": "partial"}
    parts = messages[0].to_api()["content"]
    assert isinstance(parts, list) and [p["type"] for p in parts] == ["text", "image_url"]
    assert isinstance(messages[2].to_api()["content"], str)
