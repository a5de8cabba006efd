"""Summarising old turns: /compact and the "summarize" overflow policy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from chatbot.conversation.compaction import SUMMARY_INSTRUCTIONS, SUMMARY_LABEL
from chatbot.conversation.messages import Message, Role
from chatbot.conversation.session import ChatSession
from chatbot.conversation.token_counter import TokenCounter
from chatbot.store.database import Store
from chatbot.store.store_journal import StoreJournal, conversation_from_store
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import RecordingRenderer, make_session

FACT = re.compile(r"fact-\d+")


def is_summary_request(body: dict[str, Any]) -> bool:
    return body["messages"][0]["content"] == SUMMARY_INSTRUCTIONS


def faithful_summarizer(body: dict[str, Any]) -> Reply | None:
    """Answer summary requests like a good model: keep every fact it was shown."""
    if not is_summary_request(body):
        return None
    facts = sorted(set(FACT.findall(body["messages"][1]["content"])))
    return Reply(text="- " + "\n- ".join(facts) if facts else "- nothing notable")


def summarizing_session(server: FakeOpenAIServer, **flags: object) -> ChatSession:
    server.responder = faithful_summarizer
    return make_session(server.base_url, **flags)


def test_compact_replaces_old_turns_with_a_labelled_summary(server: FakeOpenAIServer) -> None:
    session = summarizing_session(server)
    for n in range(5):
        session.send(f"note fact-{n} please", renderer=RecordingRenderer())
    assert session.compact() == 3
    session.send("what do you know?", renderer=RecordingRenderer())
    sent = server.chat_requests[-1].body["messages"]
    assert sent[0]["role"] == "system"
    assert sent[1]["role"] == "system"
    assert sent[1]["content"].startswith(SUMMARY_LABEL)
    assert all(f"fact-{n}" in sent[1]["content"] for n in range(3))
    assert [m["content"] for m in sent[2:] if m["role"] == "user"] == [
        "note fact-3 please",
        "note fact-4 please",
        "what do you know?",
    ]


def test_summarize_policy_never_exceeds_the_budget_and_keeps_early_facts(
    server: FakeOpenAIServer,
) -> None:
    window = 1200
    session = summarizing_session(
        server, context_window=window, max_tokens=200, overflow="summarize"
    )
    counter = TokenCounter()
    compacted = 0
    for n in range(40):
        result = session.send(
            f"turn {n}: remember fact-{n}. " + "blah " * 25, renderer=RecordingRenderer()
        )
        compacted += result.compacted_turns
        assert result.compaction_note is None
        assert result.dropped_turns == 0
    assert compacted > 0
    chats = [r.body for r in server.chat_requests if not is_summary_request(r.body)]
    summaries = [r.body for r in server.chat_requests if is_summary_request(r.body)]
    assert summaries
    for body in chats + summaries:
        messages = [Message(role=Role(m["role"]), content=m["content"]) for m in body["messages"]]
        assert counter.request_tokens(messages) <= window
    # Every early fact is still reachable in the last request: live or summarised.
    last = " ".join(m["content"] for m in chats[-1]["messages"])
    assert all(f"fact-{n}" in last for n in range(40))


def test_a_failed_summary_falls_back_to_dropping_and_says_so(server: FakeOpenAIServer) -> None:
    def failing(body: dict[str, Any]) -> Reply | None:
        return Reply(status=500) if is_summary_request(body) else None

    server.responder = failing
    session = make_session(
        server.base_url, context_window=700, max_tokens=100, overflow="summarize", retries=0
    )
    notes = []
    for n in range(12):
        result = session.send(f"message {n} " + "padding " * 30, renderer=RecordingRenderer())
        notes.append(result.compaction_note)
    assert any(note and "could not summarise" in note for note in notes)
    assert session.dropped_turns > 0
    assert session.conversation.summaries == []


def test_summary_is_stored_and_restored_with_what_it_covers(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.responder = faithful_summarizer
    with Store.open(tmp_path / "s.db") as store:
        journal = StoreJournal(store)
        session = make_session(server.base_url, journal=journal)
        for n in range(4):
            session.send(f"fact-{n}", renderer=RecordingRenderer())
        session.compact(keep_turns=1)
        stored = store.load_conversation(journal.conversation_id or 0)
        # The originals stay in the store next to the summary.
        assert sum(1 for m in stored.messages if m.role is Role.USER) == 4
        assert sum(1 for m in stored.messages if m.summary) == 1
        restored = conversation_from_store(stored)
        assert restored.summaries[0].content.startswith(SUMMARY_LABEL)
        assert [m.content for m in restored.live_history] == ["fact-3", "You said: fact-3"]


def test_summary_requests_count_in_the_usage(server: FakeOpenAIServer) -> None:
    def summarizer(body: dict[str, Any]) -> Reply | None:
        if is_summary_request(body):
            return Reply(text="- notes", prompt_tokens=400, completion_tokens=30)
        return Reply(text="ok", prompt_tokens=10, completion_tokens=2)

    server.responder = summarizer
    session = make_session(server.base_url)
    for n in range(3):
        session.send(f"q{n}", renderer=RecordingRenderer())
    session.compact(keep_turns=1)
    assert session.usage.prompt_tokens == 3 * 10 + 400
    assert session.usage.completion_tokens == 3 * 2 + 30
