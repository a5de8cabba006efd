"""The conversation store: persistence, safety of foreign files, and concurrent writers."""

from __future__ import annotations

import hashlib
import itertools
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.errors import StoreError
from chatbot.store import schema as schema_module
from chatbot.store.database import Store, default_store_path
from tests.support.old_stores import OldMessage, write_old_store

REPO = Path(__file__).resolve().parents[2]


def user(text: str, **kwargs: object) -> Message:
    return Message(role=Role.USER, content=text, **kwargs)  # type: ignore[arg-type]


def assistant(text: str, **kwargs: object) -> Message:
    return Message(role=Role.ASSISTANT, content=text, **kwargs)  # type: ignore[arg-type]


def new_conversation(store: Store, **overrides: str) -> int:
    fields = {"persona": "default", "model": "gpt-test", "system_prompt": "Be brief."}
    fields.update(overrides)
    return store.create_conversation(**fields)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def side_files(path: Path) -> list[Path]:
    return [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return default_store_path(tmp_path / "data")


def test_default_path_is_inside_the_data_dir(tmp_path: Path) -> None:
    assert default_store_path(tmp_path) == tmp_path / "conversations.sqlite3"


def test_messages_round_trip(db: Path) -> None:
    question = user("What is WAL?", created_at=1000.0)
    answer = assistant("Write-ahead logging.", created_at=1001.5)
    with Store.open(db) as store:
        cid = new_conversation(store, persona="tutor", system_prompt="Teach.")
        store.append_message(cid, question, persona="tutor", model="m1")
        store.append_message(
            cid,
            answer,
            persona="tutor",
            model="m1",
            params={"temperature": 0.2},
            prompt_tokens=12,
            completion_tokens=5,
        )
    assert question.id is not None and answer.id is not None

    with Store.open(db) as store:
        loaded = store.load_conversation(cid)

    assert loaded.system_prompt == "Teach."
    assert loaded.info.persona == "tutor"
    assert loaded.info.turns == 1
    got = [(m.id, m.role, m.content, m.status, m.created_at) for m in loaded.messages]
    assert got == [
        (question.id, Role.USER, "What is WAL?", ReplyStatus.COMPLETE, 1000.0),
        (answer.id, Role.ASSISTANT, "Write-ahead logging.", ReplyStatus.COMPLETE, 1001.5),
    ]
    meta = loaded.meta[answer.id]
    assert (meta.model, dict(meta.params), meta.prompt_tokens, meta.completion_tokens) == (
        "m1",
        {"temperature": 0.2},
        12,
        5,
    )


def test_summary_flag_survives(db: Path) -> None:
    with Store.open(db) as store:
        cid = new_conversation(store)
        summary = Message(role=Role.SYSTEM, content="Earlier: greetings.", summary=True)
        store.append_message(cid, summary, persona="default", model="m")
        loaded = store.load_conversation(cid)
    assert [(m.summary, m.content) for m in loaded.messages] == [(True, "Earlier: greetings.")]
    assert loaded.info.turns == 0
    assert loaded.info.title is None


def test_file_is_private_and_in_wal_mode(db: Path) -> None:
    with Store.open(db) as store:
        store.append_message(new_conversation(store), user("secret"), persona="p", model="m")
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        wal = Path(f"{db}-wal")
        assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600
        with sqlite3.connect(db) as other:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_loose_file_mode_is_tightened(db: Path) -> None:
    Store.open(db).close()
    db.chmod(0o644)
    Store.open(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_message_survives_a_crash(db: Path) -> None:
    result = run_python(
        f"""
        import os
        from pathlib import Path
        from chatbot.conversation.messages import Message, Role
        from chatbot.store.database import Store
        store = Store.open(Path({str(db)!r}))
        cid = store.create_conversation(persona="p", model="m", system_prompt="")
        store.append_message(cid, Message(role=Role.USER, content="still here"),
                             persona="p", model="m")
        os._exit(3)  # no close, no cleanup: like a crash
        """
    )
    assert result.returncode == 3, result.stderr
    with Store.open(db) as store:
        cid = store.latest_conversation_id()
        assert cid is not None
        assert [m.content for m in store.load_conversation(cid).messages] == ["still here"]


def test_title_comes_from_first_user_message(db: Path) -> None:
    long_line = "word " * 30
    with Store.open(db) as store:
        cid = new_conversation(store)
        store.append_message(cid, assistant("Hello! How can I help?"), persona="p", model="m")
        assert store.load_conversation(cid).info.title is None
        store.append_message(
            cid, user("\n\n  Fix   my\tparser  \nplease, details follow"), persona="p", model="m"
        )
        store.append_message(cid, user("A later question"), persona="p", model="m")
        assert store.load_conversation(cid).info.title == "Fix my parser"

        other = new_conversation(store)
        store.append_message(other, user(long_line), persona="p", model="m")
        title = store.load_conversation(other).info.title
        assert title is not None
        assert len(title) == 60 and title.endswith("…")
        assert long_line.startswith(title[:-1])

        named = store.create_conversation(
            persona="p", model="m", system_prompt="", title="My own title"
        )
        store.append_message(named, user("something else"), persona="p", model="m")
        assert store.load_conversation(named).info.title == "My own title"


def test_rename_and_update_conversation(db: Path) -> None:
    with Store.open(db) as store:
        cid = new_conversation(store)
        store.rename_conversation(cid, "  Trip   planning ")
        store.update_conversation(cid, persona="coder", model="big", system_prompt="Code.")
        loaded = store.load_conversation(cid)
        assert (loaded.info.title, loaded.info.persona, loaded.info.model) == (
            "Trip planning",
            "coder",
            "big",
        )
        assert loaded.system_prompt == "Code."
        with pytest.raises(StoreError, match="blank"):
            store.rename_conversation(cid, "   ")
        with pytest.raises(StoreError, match="no conversation 999"):
            store.rename_conversation(999, "x")


def test_list_is_most_recent_first_and_searchable(db: Path) -> None:
    clock = itertools.count(1000.0).__next__
    with Store.open(db, clock=clock) as store:
        first = new_conversation(store)
        store.append_message(first, user("Tell me about Ærø island"), persona="p", model="m")
        second = new_conversation(store, title="Sourdough starter")
        store.append_message(second, user("How warm should it be?"), persona="p", model="m")
        third = new_conversation(store)
        store.append_message(third, user("Python generators"), persona="p", model="m")
        store.append_message(third, user("and coroutines"), persona="p", model="m")
        # Activity in the first conversation moves it to the top.
        store.append_message(first, assistant("It is in Denmark."), persona="p", model="m")

        listed = store.list_conversations()
        assert [c.id for c in listed] == [first, third, second]
        assert [c.turns for c in listed] == [1, 2, 1]
        assert store.latest_conversation_id() == first
        assert [c.id for c in store.list_conversations(limit=2)] == [first, third]

        assert [c.id for c in store.list_conversations(search="SOURDOUGH")] == [second]
        assert [c.id for c in store.list_conversations(search="ærØ")] == [first]
        assert [c.id for c in store.list_conversations(search="denmark")] == [first]
        assert [c.id for c in store.list_conversations(search="COROUTINES")] == [third]
        assert store.list_conversations(search="100%") == []


def test_empty_store_has_no_latest(db: Path) -> None:
    with Store.open(db) as store:
        assert store.latest_conversation_id() is None
        assert store.list_conversations() == []


def test_delete_conversation_removes_its_messages(db: Path) -> None:
    with Store.open(db) as store:
        gone = new_conversation(store)
        kept = new_conversation(store)
        for text in ("one", "two"):
            store.append_message(gone, user(text), persona="p", model="m")
        store.append_message(kept, user("stay"), persona="p", model="m")
        store.delete_conversation(gone)
        with pytest.raises(StoreError, match=f"no conversation {gone}"):
            store.load_conversation(gone)
        assert [c.id for c in store.list_conversations()] == [kept]
    with sqlite3.connect(db) as raw:
        contents = [row[0] for row in raw.execute("SELECT content FROM messages")]
    assert contents == ["stay"]


def test_update_message_records_how_a_reply_ended(db: Path) -> None:
    with Store.open(db) as store:
        cid = new_conversation(store)
        reply = assistant("", status=ReplyStatus.INTERRUPTED)
        reply_id = store.append_message(cid, reply, persona="p", model="m")
        store.update_message(
            reply_id,
            content="Partial ans",
            status=ReplyStatus.INTERRUPTED,
            prompt_tokens=30,
            completion_tokens=3,
        )
        loaded = store.load_conversation(cid)
        assert [(m.content, m.status) for m in loaded.messages] == [
            ("Partial ans", ReplyStatus.INTERRUPTED)
        ]
        assert loaded.meta[reply_id].completion_tokens == 3
        store.update_message(reply_id, status=ReplyStatus.LENGTH)
        assert store.load_conversation(cid).messages[0].status is ReplyStatus.LENGTH
        with pytest.raises(StoreError, match="no message"):
            store.update_message(reply_id + 100, content="x")


def test_delete_messages_for_undo(db: Path) -> None:
    with Store.open(db) as store:
        cid = new_conversation(store)
        ids = [
            store.append_message(cid, message, persona="p", model="m")
            for message in (user("q1"), assistant("a1"), user("q2"), assistant("a2"))
        ]
        store.delete_messages(ids[2:])
        store.delete_messages([])
        assert [m.content for m in store.load_conversation(cid).messages] == ["q1", "a1"]


def test_appending_to_a_missing_conversation_fails_clearly(db: Path) -> None:
    with Store.open(db) as store, pytest.raises(StoreError, match="no conversation 42"):
        store.append_message(42, user("hi"), persona="p", model="m")


def _write_v0_file(path: Path) -> None:
    """A valid, empty SQLite database with user_version 0, as an old release would leave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE scratch (x)")
        raw.execute("DROP TABLE scratch")
    raw.close()


def test_old_file_is_upgraded(db: Path) -> None:
    _write_v0_file(db)
    with Store.open(db) as store:
        cid = new_conversation(store)
        store.append_message(cid, user("after upgrade"), persona="p", model="m")
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(schema_module.MIGRATIONS)
    raw.close()


def test_failed_migration_leaves_the_file_at_its_old_version(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_v0_file(db)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE no_such_table ADD COLUMN x")

    monkeypatch.setattr(schema_module, "MIGRATIONS", [*schema_module.MIGRATIONS, broken])
    with pytest.raises(StoreError, match=str(db)):
        Store.open(db)
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
        assert raw.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    raw.close()


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _truncated_store(path: Path) -> None:
    with Store.open(path) as store:
        cid = new_conversation(store)
        for n in range(300):
            store.append_message(cid, user(f"message {n} " + "x" * 200), persona="p", model="m")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])


def _newer_store(path: Path) -> None:
    Store.open(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    raw.close()


def _foreign_database(path: Path) -> None:
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE bookmarks (url TEXT)")
        raw.execute("INSERT INTO bookmarks VALUES ('https://example.com')")
    raw.close()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_random_bytes, "not a SQLite database"),
        (lambda p: p.write_bytes(b"SQLite"), "not a SQLite database"),
        (_truncated_store, "damaged"),
        (_newer_store, "newer chatbot"),
        (_foreign_database, "another program"),
    ],
    ids=["random-bytes", "short-file", "truncated", "newer-schema", "foreign-db"],
)
def test_unusable_file_is_refused_and_left_untouched(
    tmp_path: Path, make: object, reason: str
) -> None:
    path = tmp_path / "conversations.sqlite3"
    assert callable(make)
    make(path)
    path.chmod(0o644)
    before = digest(path)

    with pytest.raises(StoreError) as caught:
        Store.open(path)

    message = str(caught.value)
    assert str(path) in message and reason in message
    assert "\n" not in message
    assert digest(path) == before
    assert side_files(path) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_two_processes_writing_at_once_lose_nothing(db: Path) -> None:
    with Store.open(db) as store:
        cid = new_conversation(store)
    go = db.parent / "go"
    script = f"""
        import sys, time
        from pathlib import Path
        from chatbot.conversation.messages import Message, Role
        from chatbot.store.database import Store
        name = sys.argv[1]
        with Store.open(Path({str(db)!r})) as store:
            # Both processes are open and ready before either writes, so they collide.
            Path({str(db)!r} + "." + name).touch()
            while not Path({str(go)!r}).exists():
                time.sleep(0.001)
            for n in range(200):
                store.append_message(
                    {cid}, Message(role=Role.USER, content=f"{{name}}-{{n}}"),
                    persona="p", model="m",
                )
        """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script), name],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    while not all(Path(f"{db}.{name}").exists() for name in "ab"):
        assert all(proc.poll() is None for proc in procs), "a writer died while opening"
        time.sleep(0.005)
    go.touch()
    results = [proc.communicate(timeout=90) for proc in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert err == ""

    with Store.open(db) as store:
        contents = [m.content for m in store.load_conversation(cid).messages]
    assert len(contents) == 400
    assert sorted(contents) == sorted(f"{name}-{n}" for name in "ab" for n in range(200))
    for name in "ab":
        mine = [c for c in contents if c.startswith(f"{name}-")]
        assert mine == [f"{name}-{n}" for n in range(200)]


def test_response_cache(db: Path) -> None:
    messages = [{"role": "user", "content": "2+2?"}]
    key = Store.cache_key(persona="p", model="m", params={"temperature": 0}, messages=messages)
    reordered = Store.cache_key(
        persona="p", model="m", params={"temperature": 0}, messages=[dict(messages[0])]
    )
    assert key == reordered
    assert key != Store.cache_key(
        persona="p", model="m", params={"temperature": 1}, messages=messages
    )
    assert key != Store.cache_key(
        persona="p", model="m2", params={"temperature": 0}, messages=messages
    )
    with Store.open(db) as store:
        assert store.cache_get(key) is None
        store.cache_put(key, reply="4", model="m")
        store.cache_put(key, reply="Four.", model="m")
    with Store.open(db) as store:
        assert store.cache_get(key) == "Four."


def test_usage_by_model_sums_requests_since_a_time(db: Path) -> None:
    with Store.open(db) as store:
        cid = new_conversation(store)
        store.record_usage(cid, model="small", prompt_tokens=1000, completion_tokens=1000, at=100.0)
        store.record_usage(cid, model="small", prompt_tokens=10, completion_tokens=3, at=200.0)
        store.record_usage(cid, model="small", prompt_tokens=20, completion_tokens=4, at=300.0)
        store.record_usage(None, model="big", prompt_tokens=7, completion_tokens=1, at=250.0)
        # Messages carry their own token columns, but totals come from recorded usage only.
        store.append_message(
            cid,
            assistant("ok", created_at=400.0),
            persona="p",
            model="small",
            prompt_tokens=99,
            completion_tokens=99,
        )
        assert store.usage_by_model(since=200.0) == {"small": (30, 7), "big": (7, 1)}
        assert store.usage_by_model(since=1000.0) == {}


def test_record_usage_defaults_to_now_and_checks_its_input(db: Path) -> None:
    with Store.open(db, clock=lambda: 5000.0) as store:
        store.record_usage(None, model="m", prompt_tokens=3, completion_tokens=2)
        assert store.usage_by_model(since=5000.0) == {"m": (3, 2)}
        assert store.usage_by_model(since=5000.5) == {}
        with pytest.raises(StoreError, match="no conversation 42"):
            store.record_usage(42, model="m", prompt_tokens=1, completion_tokens=1)
        with pytest.raises(ValueError, match="negative"):
            store.record_usage(None, model="m", prompt_tokens=-1, completion_tokens=1)


def test_paid_tokens_survive_undo_and_deleting_the_conversation(db: Path) -> None:
    with Store.open(db) as store:
        cid = new_conversation(store)
        question = user("q", created_at=10.0)
        answer = assistant("a", created_at=11.0)
        store.append_message(cid, question, persona="p", model="m")
        store.append_message(
            cid, answer, persona="p", model="m", prompt_tokens=40, completion_tokens=8
        )
        store.record_usage(cid, model="m", prompt_tokens=40, completion_tokens=8, at=11.0)
        store.delete_messages([question.id or 0, answer.id or 0])
        assert store.usage_by_model(since=0.0) == {"m": (40, 8)}
        store.delete_conversation(cid)
    with Store.open(db) as store:
        assert store.usage_by_model(since=0.0) == {"m": (40, 8)}
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT conversation_id FROM usage").fetchall() == [(None,)]
    raw.close()


def test_version_1_file_is_upgraded_with_its_usage(db: Path) -> None:
    # A file written by the release whose schema ended at version 1.
    (cid,) = write_old_store(
        db,
        version=1,
        conversations=[
            (
                None,
                [
                    OldMessage(role="user", content="q", created_at=100.0),
                    OldMessage(
                        role="assistant",
                        content="a",
                        created_at=101.0,
                        prompt_tokens=50,
                        completion_tokens=5,
                    ),
                    OldMessage(
                        role="assistant",
                        content="b",
                        created_at=102.0,
                        status="interrupted",
                        model="m2",
                        prompt_tokens=60,
                    ),
                    OldMessage(
                        role="assistant",
                        content="c",
                        created_at=103.0,
                        status="cached",
                        prompt_tokens=50,
                        completion_tokens=5,
                    ),
                    OldMessage(role="assistant", content="d", created_at=104.0),
                ],
            )
        ],
    )

    with Store.open(db) as store:
        assert store.usage_by_model(since=0.0) == {"m1": (50, 5), "m2": (60, 0)}
        assert store.usage_by_model(since=101.5) == {"m2": (60, 0)}
        assert [m.content for m in store.load_conversation(cid).messages] == [
            "q",
            "a",
            "b",
            "c",
            "d",
        ]
        store.record_usage(cid, model="m1", prompt_tokens=1, completion_tokens=1, at=200.0)
        assert store.usage_by_model(since=0.0)["m1"] == (51, 6)
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(schema_module.MIGRATIONS)
    raw.close()
    # Opening again must not copy the old usage a second time.
    with Store.open(db) as store:
        assert store.usage_by_model(since=0.0) == {"m1": (51, 6), "m2": (60, 0)}
