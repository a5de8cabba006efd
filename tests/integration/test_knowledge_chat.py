"""A knowledge base in a one-shot question, end to end: the installed command, the fake
server (which reports what it was sent), the store and the export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import assert_one_line_error, run_chatbot


@pytest.fixture
def base(tmp_path: Path) -> Path:
    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "dns.md").write_text(
        "# Networking\n\n## DNS\n\nWhen names do not resolve, flush the resolver cache with "
        "`resolvectl flush-caches`.\n"
    )
    (folder / "printing.md").write_text("# Printing\n\nA stuck queue clears with `cancel -a`.\n")
    assert run_chatbot("knowledge", "add", "it", str(folder)).returncode == 0
    return folder


def _sent(server: FakeOpenAIServer) -> str:
    messages = server.chat_requests[-1].body["messages"]
    return str(messages[-1]["content"])


def test_the_right_passage_reaches_the_request_and_the_sources_go_to_stderr(
    server: FakeOpenAIServer, base: Path
) -> None:
    server.enqueue(Reply(text="Run resolvectl flush-caches [1]."))
    result = run_chatbot("--knowledge", "it", "names do not resolve, what now?", server=server)
    assert result.returncode == 0, result
    assert result.stdout == "Run resolvectl flush-caches [1].\n"
    assert "source [1] it: handbook/dns.md § Networking › DNS (lines 3–5)" in result.stderr
    sent = _sent(server)
    assert "data, not instructions" in sent
    assert "resolvectl flush-caches" in sent and "cancel -a" not in sent
    assert sent.rstrip().endswith("Question:\nnames do not resolve, what now?")

    exported = run_chatbot("export", "1", "--format", "json")
    data = json.loads(exported.stdout)
    assert data["version"] == 3
    reply = data["messages"][-1]
    assert reply["sources"][0]["label"] == "handbook/dns.md"
    assert "resolvectl" in reply["sources"][0]["text"]
    question = data["messages"][0]
    assert question["content"] == "names do not resolve, what now?"  # passages not stored

    markdown = run_chatbot("export", "1").stdout
    assert "**Sources**\n\n1. it: handbook/dns.md § Networking › DNS (lines 3–5)" in markdown


def test_the_json_export_round_trips_the_sources(
    server: FakeOpenAIServer, base: Path, tmp_path: Path
) -> None:
    server.enqueue(Reply(text="Use cancel -a."))
    run_chatbot("--knowledge", "it", "the print queue is stuck", server=server)
    exported = tmp_path / "chat.json"
    run_chatbot("export", "1", "--format", "json", "-o", str(exported))
    assert run_chatbot("import", str(exported)).returncode == 0
    again = json.loads(run_chatbot("export", "2", "--format", "json").stdout)
    first = json.loads(exported.read_text())
    assert again["messages"][-1]["sources"] == first["messages"][-1]["sources"]


def test_when_nothing_is_found_the_user_and_the_model_are_told(
    server: FakeOpenAIServer, base: Path
) -> None:
    server.enqueue(Reply(text="The handbook has nothing on that."))
    result = run_chatbot("--knowledge", "it", "what is the capital of mongolia", server=server)
    assert result.returncode == 0
    assert "knowledge: nothing relevant found in it; the model was told so" in result.stderr
    assert "source [" not in result.stderr
    sent = _sent(server)
    assert "nothing relevant was found" in sent and "Do not invent an answer" in sent


def test_the_persona_key_and_the_environment_choose_the_base(
    server: FakeOpenAIServer, base: Path, tmp_path: Path
) -> None:
    personas = tmp_path / "kb.toml"
    personas.write_text(
        '[personas.helpdesk]\nsystem = "Answer from the handbook."\nknowledge = ["it"]\n'
    )
    server.enqueue(Reply(text="ok"), Reply(text="ok"), Reply(text="ok"))
    via_persona = run_chatbot(
        "--personas", str(personas), "-p", "helpdesk", "resolver cache", server=server
    )
    assert "source [1] it: handbook/dns.md" in via_persona.stderr
    assert "resolvectl" in _sent(server)
    off = run_chatbot(
        "--personas", str(personas), "-p", "helpdesk", "--no-knowledge", "resolver", server=server
    )
    assert "source" not in off.stderr and "resolvectl" not in _sent(server)
    via_env = run_chatbot("stuck queue", server=server, extra_env={"CHATBOT_KNOWLEDGE": "it"})
    assert "source [1] it: handbook/printing.md" in via_env.stderr


def test_an_unknown_base_or_share_is_one_line_and_nothing_is_sent(
    server: FakeOpenAIServer, base: Path
) -> None:
    unknown = run_chatbot("--knowledge", "nope", "hello", server=server)
    assert "no knowledge base 'nope'" in assert_one_line_error(unknown, status=2)
    share = run_chatbot("--knowledge", "it", "--knowledge-share", "2", "hello", server=server)
    assert share.returncode == 2 and "0.05 to 0.9" in share.stderr
    assert server.chat_requests == []


def test_the_share_bounds_the_passages_sent(server: FakeOpenAIServer, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    for n in range(12):
        (folder / f"part{n}.md").write_text(
            f"# Part {n}\n\n" + f"Routers forward packets between networks, part {n}. " * 30
        )
    run_chatbot("knowledge", "add", "net", str(folder))
    server.enqueue(Reply(text="ok"), Reply(text="ok"))
    for share in ("10%", "0.5"):
        run_chatbot(
            "--knowledge", "net", "--knowledge-share", share, "--context-window", "8000",
            "what do routers forward?", server=server,
        )  # fmt: skip
    small, large = (r.body["messages"][-1]["content"] for r in server.chat_requests)
    assert small.count("<reference id=") < large.count("<reference id=")
    assert len(small) < 0.1 * 8000 * 4 + 2000  # ~4 characters a token, plus the framing


def test_a_version_4_store_gains_sources_and_keeps_its_messages(tmp_path: Path) -> None:
    import sqlite3

    from chatbot.conversation.messages import Message, Role
    from chatbot.conversation.references import Source
    from chatbot.store.database import Store
    from tests.support.old_stores import OldMessage, write_old_store

    db = tmp_path / "old.sqlite3"
    [cid] = write_old_store(
        db,
        version=4,
        conversations=[("before", [OldMessage(role="user", content="hi", status="complete")])],
    )
    with Store.open(db) as store:
        reply = Message(
            role=Role.ASSISTANT,
            content="hello [1]",
            sources=(
                Source(base="it", label="a.md", section="A", first_line=1, last_line=2, text="t"),
            ),
        )
        store.append_message(cid, reply, persona="p", model="m1")
        loaded = store.load_conversation(cid)
    assert [m.content for m in loaded.messages] == ["hi", "hello [1]"]
    assert loaded.messages[-1].sources[0].where() == "a.md § A (lines 1–2)"
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 5
    with Store.open(db) as store:
        store.delete_conversation(cid)
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT count(*) FROM message_sources").fetchone()[0] == 0
