"""A store that grows: the search index, its migration, and damage found on the fast path."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from chatbot.conversation.messages import Message, Role
from chatbot.errors import StoreError
from chatbot.store import schema as schema_module
from chatbot.store.database import Store
from chatbot.store.search import SHORT_QUERY_SCAN
from tests.support.helpers import run_chatbot
from tests.support.old_stores import OldMessage, write_old_store

REPO = Path(__file__).resolve().parents[2]


def user(text: str) -> Message:
    return Message(role=Role.USER, content=text)


def assistant(text: str) -> Message:
    return Message(role=Role.ASSISTANT, content=text)


def conversation(store: Store, *texts: str, title: str | None = None) -> int:
    """A conversation of alternating user and assistant ``texts``."""
    cid = store.create_conversation(persona="p", model="m", system_prompt="s", title=title)
    for n, text in enumerate(texts):
        store.append_message(
            cid, user(text) if n % 2 == 0 else assistant(text), persona="p", model="m"
        )
    return cid


def found(store: Store, text: str) -> list[int]:
    return [hit.info.id for hit in store.search_conversations(text).hits]


def index_is_consistent(path: Path) -> None:
    """FTS5's own check that the index matches the text it was built from."""
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO message_index(message_index) VALUES ('integrity-check')")
        raw.execute("INSERT INTO title_index(title_index) VALUES ('integrity-check')")
    raw.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "conversations.sqlite3"


# -- search ---------------------------------------------------------------------------


def test_search_finds_japanese_inside_a_sentence_without_spaces(db: Path) -> None:
    with Store.open(db) as store:
        tokyo = conversation(store, "東京都に住んでいます", "いいですね")
        conversation(store, "大阪に行きました", "楽しそう")
        assert found(store, "京都に") == [tokyo]
        assert found(store, "住んで") == [tokyo]
        # Two characters are too few for the index: the newest messages are scanned.
        result = store.search_conversations("東京")
        assert [hit.info.id for hit in result.hits] == [tokyo]
        assert result.complete


def test_search_ignores_case_across_unicode(db: Path) -> None:
    with Store.open(db) as store:
        french = conversation(store, "L'ÉCOLE est fermée", "Dommage")
        greek = conversation(store, "ΣΊΣΥΦΟΣ", "ok")
        assert found(store, "école") == [french]
        assert found(store, "FERMÉE") == [french]
        assert found(store, "σίσυφος") == [greek]


def test_search_finds_words_inside_markdown_emphasis(db: Path) -> None:
    with Store.open(db) as store:
        bold = conversation(store, "what matters?", "This is **important** to know.")
        split = conversation(store, "and this?", "It is **impor**tant, bolded oddly.")
        code = conversation(store, "which name?", "Call `parse_config` first.")
        assert sorted(found(store, "important")) == sorted([bold, split])
        assert found(store, "parse_config") == [code]
        assert found(store, "`parse_config`") == [code]
        (hit,) = store.search_conversations("tant, bold").hits
        # The snippet is one readable line around the match, marks removed.
        assert hit.snippet is not None and "It is important, bolded oddly." in hit.snippet


def test_results_are_newest_first_with_a_snippet_of_the_match(db: Path) -> None:
    clock = iter(range(1000, 2000))
    with Store.open(db, clock=lambda: float(next(clock))) as store:
        old = conversation(store, "tell me about kestrels", "Kestrels hover.")
        new = conversation(store, "and falcons?", "Falcons stoop; " + "x" * 300 + " kestrel too")
        titled = conversation(store, "nothing here", title="Kestrel notes")
        result = store.search_conversations("KESTREL")
        assert [hit.info.id for hit in result.hits] == [titled, new, old]
        snippets = {hit.info.id: hit.snippet for hit in result.hits}
        assert snippets[titled] is None
        assert snippets[old] == "Kestrels hover."
        assert snippets[new] is not None and snippets[new].startswith("…")
        assert "kestrel too" in snippets[new]
        assert len(snippets[new]) <= 80


def test_search_miss_and_query_syntax_are_plain_text(db: Path) -> None:
    with Store.open(db) as store:
        cid = conversation(store, 'he said "NEAR(a b)" AND left*', "ok")
        assert found(store, "zebra crossing") == []
        assert found(store, '"NEAR(a b)"') == [cid]
        assert found(store, "AND") == [cid]
        assert found(store, ")") == [cid]


def test_index_follows_edits_deletes_renames_and_imports(db: Path) -> None:
    with Store.open(db) as store:
        cid = conversation(store, "question", "draft answer")
        gone = conversation(store, "ephemeral words", "bye")
        reply = store.load_conversation(cid).messages[1]
        store.update_message(reply.id or 0, content="final answer about otters")
        assert found(store, "draft") == []
        assert found(store, "otters") == [cid]
        store.delete_conversation(gone)
        assert found(store, "ephemeral") == []
        store.rename_conversation(cid, "Mustelids")
        assert found(store, "mustelid") == [cid]
        store.delete_messages([reply.id or 0])
        assert found(store, "otters") == []
    index_is_consistent(db)


def test_a_short_query_scans_only_the_newest_messages_and_says_so(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatbot.store.search.SHORT_QUERY_SCAN", 4)
    with Store.open(db) as store:
        old = conversation(store, "ox tail", "ok", title="Cattle")
        new = conversation(store, "an ox", "yes", "ox again", "sure")
        result = store.search_conversations("ox")
        assert [hit.info.id for hit in result.hits] == [new]
        assert not result.complete
        # Three characters or more always search everything.
        assert found(store, "ox tail") == [old]
    assert SHORT_QUERY_SCAN >= 10_000


# -- migration ------------------------------------------------------------------------


def test_version_2_store_is_indexed_on_upgrade(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = write_old_store(
        db,
        version=2,
        conversations=[
            ("Trip plans", [OldMessage(role="user", content="東京都に行きたい")]),
            (
                None,
                [
                    OldMessage(role="user", content="L'ÉCOLE"),
                    OldMessage(role="assistant", content="**impor**tant"),
                ],
            ),
        ],
    )
    with Store.open(db) as store:
        assert found(store, "京都に") == [ids[0]]
        assert found(store, "trip") == [ids[0]]
        assert found(store, "école") == [ids[1]]
        assert found(store, "important") == [ids[1]]
        loaded = store.load_conversation(ids[1])
        assert [m.content for m in loaded.messages] == ["L'ÉCOLE", "**impor**tant"]
        store.append_message(ids[1], user("after the upgrade"), persona="p", model="m")
        assert found(store, "upgrade") == [ids[1]]
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(schema_module.MIGRATIONS)
    raw.close()
    index_is_consistent(db)
    assert capsys.readouterr().err == ""  # a small store is indexed without a word


def test_indexing_a_large_store_says_so_on_stderr(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    many = [OldMessage(role="user", content=f"message {n}") for n in range(30)]
    write_old_store(db, version=2, conversations=[("big", many)])
    monkeypatch.setattr(schema_module, "_ANNOUNCE_FROM", 25)
    with Store.open(db) as store:
        assert len(found(store, "message 2")) == 1
    err = capsys.readouterr().err
    assert "indexing 30 stored messages for search" in err
    assert err.count("\n") == 1


# -- damage found on the fast path ----------------------------------------------------


def _damage_the_middle(path: Path) -> None:
    """Overwrite pages in the middle with garbage: the header and schema stay intact."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    pages = len(data) // page
    for number in range(pages // 3, 2 * pages // 3):
        data[number * page : (number + 1) * page] = os.urandom(page)
    path.write_bytes(bytes(data))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_damage_past_the_header_is_refused_where_met_and_the_file_left_alone(db: Path) -> None:
    with Store.open(db) as store:
        cid = conversation(store, *(f"message {n} " + "words " * 60 for n in range(400)))
    _damage_the_middle(db)
    before = _digest(db)

    # Opening reads only the header and schema, so it is as fast as an empty store...
    store = Store.open(db)
    try:
        # ...and the damage is reported, in one line naming the file, where SQLite meets it.
        with pytest.raises(StoreError) as caught:
            store.load_conversation(cid, window_tokens=None)
    finally:
        store.close()
    message = str(caught.value)
    assert str(db) in message and "damaged" in message and "\n" not in message
    assert _digest(db) == before
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


def test_a_truncated_store_is_refused_from_its_header(db: Path) -> None:
    with Store.open(db) as store:
        conversation(store, *(f"message {n} " + "x" * 200 for n in range(300)))
    db.write_bytes(db.read_bytes()[: 3 * 4096])
    before = _digest(db)
    with pytest.raises(StoreError, match="cut short"):
        Store.open(db)
    assert _digest(db) == before
    assert not Path(f"{db}-wal").exists()


# -- two writers ----------------------------------------------------------------------


def test_two_processes_writing_keep_the_index_in_step(db: Path) -> None:
    with Store.open(db) as store:
        cid = conversation(store)
    go = db.parent / "go"
    script = f"""
        import sys, time
        from pathlib import Path
        from chatbot.conversation.messages import Message, Role
        from chatbot.store.database import Store
        name = sys.argv[1]
        with Store.open(Path({str(db)!r})) as store:
            Path({str(db)!r} + "." + name).touch()
            while not Path({str(go)!r}).exists():
                time.sleep(0.001)
            for n in range(150):
                store.append_message(
                    {cid}, Message(role=Role.USER, content=f"writer-{{name}} line {{n}}"),
                    persona="p", model="m",
                )
        """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script), name],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    while not all(Path(f"{db}.{name}").exists() for name in "ab"):
        assert all(proc.poll() is None for proc in procs), "a writer died while opening"
        time.sleep(0.005)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
    with Store.open(db) as store:
        assert found(store, "writer-a line 149") == [cid]
        assert found(store, "writer-b line 0") == [cid]
        assert len(store.load_conversation(cid, window_tokens=None).messages) == 300
    index_is_consistent(db)


def test_sessions_search_shows_where_each_conversation_matched(db: Path) -> None:
    with Store.open(db) as store:
        conversation(store, "Plan the trip", "Book the **ferry** to Hakodate early.")
        conversation(store, "Unrelated", "Nothing to see.")
    result = run_chatbot("--db", str(db), "sessions", "--search", "FERRY")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "Plan the trip" in lines[0]
    assert lines[1].strip() == "Book the ferry to Hakodate early."
    assert result.stderr == ""


def test_a_full_check_on_demand_finds_what_opening_skips(db: Path) -> None:
    with Store.open(db) as store:
        conversation(store, *(f"message {n} " + "words " * 60 for n in range(400)))
        assert store.check_integrity() == []
    _damage_the_middle(db)
    with Store.open(db) as store:
        try:
            problems = store.check_integrity()
        except StoreError as exc:  # SQLite may also stop at the first damaged page
            problems = [str(exc)]
    assert problems
