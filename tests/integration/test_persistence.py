"""The chat session writing through to the SQLite store, and the response cache."""

from __future__ import annotations

from pathlib import Path

from chatbot.api.client import ChatClient
from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.conversation.session import ChatSession
from chatbot.settings.personas import load_personas
from chatbot.store.database import Store
from chatbot.store.store_journal import (
    StoreJournal,
    StoreReplyCache,
    conversation_from_store,
    persona_for_stored,
)
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import RecordingRenderer, make_config


def session_with_store(
    server: FakeOpenAIServer, store: Store, **flags: object
) -> tuple[ChatSession, StoreJournal]:
    journal = StoreJournal(store)
    client = ChatClient(api_key="k", base_url=server.base_url, timeout=5, max_retries=0)
    session = ChatSession(
        config=make_config(server.base_url, **flags),
        persona=load_personas().get("it-support"),
        backend=client,
        journal=journal,
        cache=StoreReplyCache(store),
    )
    return session, journal


def test_no_conversation_is_created_until_the_first_message(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    with Store.open(tmp_path / "s.db") as store:
        session_with_store(server, store)
        assert store.list_conversations() == []


def test_every_message_is_stored_as_it_happens(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.enqueue(Reply(text="one", prompt_tokens=40, completion_tokens=2))
    with Store.open(tmp_path / "s.db") as store:
        session, journal = session_with_store(server, store)
        session.send("first question", renderer=RecordingRenderer())
        stored = store.load_conversation(journal.conversation_id or 0)
        assert [(m.role, m.content) for m in stored.messages] == [
            (Role.USER, "first question"),
            (Role.ASSISTANT, "one"),
        ]
        assert stored.info.persona == "it-support"
        assert stored.info.title == "first question"
        reply_meta = stored.meta[stored.messages[1].id or 0]
        assert (reply_meta.prompt_tokens, reply_meta.completion_tokens) == (40, 2)
        assert reply_meta.params.get("temperature") == 0.3


def test_retry_undo_and_clear_keep_the_store_consistent(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(Reply(text="a1"), Reply(text="a2"), Reply(text="a2 better"))
    with Store.open(tmp_path / "s.db") as store:
        session, journal = session_with_store(server, store)
        session.send("q1", renderer=RecordingRenderer())
        session.send("q2", renderer=RecordingRenderer())
        session.retry(renderer=RecordingRenderer())
        first_id = journal.conversation_id or 0
        assert [m.content for m in store.load_conversation(first_id).messages] == [
            "q1",
            "a1",
            "q2",
            "a2 better",
        ]
        session.undo()
        assert [m.content for m in store.load_conversation(first_id).messages] == ["q1", "a1"]
        session.clear()
        session.send("fresh start", renderer=RecordingRenderer())
        assert journal.conversation_id != first_id
        assert len(store.list_conversations()) == 2


def test_interrupted_reply_is_stored_with_its_status(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(Reply(text="x" * 400, chunk_chars=4, delay=0.001))
    with Store.open(tmp_path / "s.db") as store:
        session, journal = session_with_store(server, store)
        session.send("go", renderer=RecordingRenderer(interrupt_after=3))
        stored = store.load_conversation(journal.conversation_id or 0)
        assert stored.messages[-1].status is ReplyStatus.INTERRUPTED
        assert stored.messages[-1].content == "x" * 12


def test_resume_rebuilds_conversation_and_persona(server: FakeOpenAIServer, tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        session, journal = session_with_store(server, store)
        session.send("remember 42", renderer=RecordingRenderer())
        stored = store.load_conversation(journal.conversation_id or 0)
        conversation = conversation_from_store(stored)
        book = load_personas()
        assert persona_for_stored(stored, book).name == "it-support"
        assert [m.content for m in conversation.messages] == [
            "remember 42",
            "You said: remember 42",
        ]


def test_cache_answers_identical_requests_without_the_api(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(Reply(text="cached answer"))
    with Store.open(tmp_path / "s.db") as store:
        first, _ = session_with_store(server, store, cache=True)
        first.send("what is DNS?", renderer=RecordingRenderer())
        second, _ = session_with_store(server, store, cache=True)
        renderer = RecordingRenderer()
        result = second.send("what is DNS?", renderer=renderer)
        assert result.reply.status is ReplyStatus.CACHED
        assert renderer.text == "cached answer"
        assert len(server.chat_requests) == 1
        # A different question still goes to the server.
        second.send("and DHCP?", renderer=RecordingRenderer())
        assert len(server.chat_requests) == 2


def test_cache_is_off_by_default(server: FakeOpenAIServer, tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        for _ in range(2):
            session, _ = session_with_store(server, store)
            session.send("same", renderer=RecordingRenderer())
        assert len(server.chat_requests) == 2


def test_retry_asks_the_server_even_with_the_cache_on(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(Reply(text="first"), Reply(text="second"))
    with Store.open(tmp_path / "s.db") as store:
        session, _ = session_with_store(server, store, cache=True)
        session.send("q", renderer=RecordingRenderer())
        result = session.retry(renderer=RecordingRenderer())
        assert result.reply.content == "second"
        assert result.reply.status is ReplyStatus.COMPLETE


def test_resuming_keeps_a_model_the_user_chose_now(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    from chatbot.store.store_journal import resume

    with Store.open(tmp_path / "s.db") as store:
        first, journal = session_with_store(server, store, model="local-model")
        first.send("hello", renderer=RecordingRenderer())
        stored = store.load_conversation(journal.conversation_id or 0)
        chosen, journal2 = session_with_store(server, store, model="gpt-4o")
        resume(chosen, stored, book=load_personas(), journal=journal2)
        assert chosen.params.model == "gpt-4o"
        unchosen, journal3 = session_with_store(server, store)
        resume(unchosen, stored, book=load_personas(), journal=journal3)
        assert unchosen.params.model == "local-model"
