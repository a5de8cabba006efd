"""Resuming a long conversation reads its newest part; the input history stays bounded."""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_pipe_input

from chatbot.conversation.compaction import summary_message
from chatbot.conversation.messages import Message, Role
from chatbot.repl.commands.session_commands import add_store_commands
from chatbot.repl.input_line import HISTORY_ENTRIES, build_prompt_session, trim_history
from chatbot.settings.personas import load_personas
from chatbot.store.database import Store
from chatbot.store.store_journal import StoreJournal, conversation_from_store
from tests.integration.test_repl import Harness
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.helpers import make_session


def long_conversation(store: Store, *, turns: int, reply_words: int = 50) -> int:
    cid = store.create_conversation(persona="default", model="m", system_prompt="s")
    for n in range(turns):
        store.append_message(
            cid, Message(role=Role.USER, content=f"q{n}"), persona="default", model="m"
        )
        reply = Message(role=Role.ASSISTANT, content=f"a{n} " + "word " * reply_words)
        store.append_message(cid, reply, persona="default", model="m")
    return cid


def test_a_window_holds_the_newest_whole_turns_and_counts_the_rest(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        cid = long_conversation(store, turns=300)
        window = store.load_conversation(cid, window_tokens=1_000)
        whole = store.load_conversation(cid, window_tokens=None)

        contents = [m.content for m in window.messages]
        assert contents[0].startswith("q") and contents[-1].startswith("a299")
        assert 6 <= len(contents) < 100
        assert window.earlier + len(contents) == 600 == len(whole.messages)
        # Every loaded message carries the estimate made when it was written.
        assert all(m.token_cache is not None for m in window.messages)
        # However small the window, the replay's last three turns are there.
        tiny = store.load_conversation(cid, window_tokens=1)
        assert [m.content for m in tiny.messages][::2] == ["q297", "q298", "q299"]


def test_a_short_conversation_loads_whole(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        cid = long_conversation(store, turns=5)
        loaded = store.load_conversation(cid)
        assert len(loaded.messages) == 10 and loaded.earlier == 0


def test_summaries_count_from_the_first_message_whatever_was_loaded(tmp_path: Path) -> None:
    session = make_session("http://127.0.0.1:9")
    persona = load_personas().get("default")
    with Store.open(tmp_path / "s.db") as store:
        cid = long_conversation(store, turns=200)
        window = store.load_conversation(cid, window_tokens=2_000)
        assert window.earlier > 0
        journal = StoreJournal(store)
        journal.continue_conversation(cid, earlier=window.earlier)
        conversation = conversation_from_store(window)
        # The session summarises the first four messages it holds.
        journal.record_summary(
            summary_message("they talked"), covers=4, persona=persona, params=session.params
        )
        whole = store.load_conversation(cid, window_tokens=None)
        summary = whole.messages[-1]
        assert summary.summary
        assert whole.meta[summary.id or 0].params["covers"] == window.earlier + 4

        again = conversation_from_store(store.load_conversation(cid, window_tokens=2_000))
        assert again.summaries[0].content.endswith("they talked")
        assert [m.content for m in again.live_history] == [
            m.content for m in conversation.messages[4:]
        ]


def _history_file(path: Path, entries: int) -> None:
    history = FileHistory(str(path))
    for n in range(entries):
        history.store_string(f"line {n}\nsecond line of {n}")


def test_input_history_keeps_the_newest_entries(tmp_path: Path) -> None:
    path = tmp_path / "history"
    _history_file(path, HISTORY_ENTRIES + 250)

    build_prompt_session(history_path=path)

    kept = list(FileHistory(str(path)).load_history_strings())
    assert len(kept) == HISTORY_ENTRIES
    assert kept[0] == f"line {HISTORY_ENTRIES + 249}\nsecond line of {HISTORY_ENTRIES + 249}"
    assert kept[-1] == "line 250\nsecond line of 250"
    assert path.stat().st_mode & 0o777 == 0o600
    assert not path.with_name("history.trim").exists()


def test_a_short_history_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "history"
    _history_file(path, 10)
    before = path.read_bytes()
    trim_history(path, keep=10)
    trim_history(tmp_path / "missing", keep=10)
    assert path.read_bytes() == before


def test_repl_sessions_search_shows_the_match_under_the_title(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    with create_pipe_input() as pipe, Store.open(tmp_path / "s.db") as store:
        cid = store.create_conversation(persona="default", model="m", system_prompt="s")
        store.append_message(
            cid, Message(role=Role.USER, content="Which ferry?"), persona="default", model="m"
        )
        store.append_message(
            cid,
            Message(role=Role.ASSISTANT, content="Take the **night** ferry to Hakodate."),
            persona="default",
            model="m",
        )
        harness = Harness(make_session(server.base_url), pipe, tmp_path / "history")
        add_store_commands(
            harness.repl.commands, store=store, journal=StoreJournal(store), confirm=lambda _: False
        )
        harness.run("/sessions hakodate\r/sessions zebra\r\x04")
    assert "Which ferry?" in harness.output
    assert "Take the night ferry to Hakodate." in harness.output
    assert "no conversations found" in harness.output
    assert server.chat_requests == []
