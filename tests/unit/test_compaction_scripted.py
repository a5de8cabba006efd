"""Compaction on a scripted backend: the summary stands in, and a failure changes nothing."""

from __future__ import annotations

import pytest

from chatbot.api.scripted import ScriptedBackend, reply
from chatbot.conversation.compaction import SUMMARY_LABEL
from chatbot.errors import CompactionFailed, ServerError
from tests.support.helpers import RecordingRenderer, scripted_session


def _chat(turns: int) -> tuple[ScriptedBackend, object]:
    backend = ScriptedBackend()
    session = scripted_session(backend)
    for n in range(turns):
        session.send(f"fact {n}: the code word is w{n}", renderer=RecordingRenderer())
    return backend, session


def test_compact_folds_older_turns_into_one_labelled_summary() -> None:
    backend = ScriptedBackend()
    session = scripted_session(backend)
    for n in range(5):
        session.send(f"fact {n}", renderer=RecordingRenderer())
    backend.add(reply("The user stated facts 0 to 2."))
    covered = session.compact(keep_turns=2)
    assert covered == 3
    summary_request = backend.requests[-1]
    assert "fact 0" in str(summary_request.messages)
    session.send("next", renderer=RecordingRenderer())
    sent = backend.requests[-1].messages
    assert sent[0]["role"] == "system"
    assert SUMMARY_LABEL in sent[1]["content"] and "facts 0 to 2" in sent[1]["content"]
    assert [m["content"] for m in sent[2:]][-1] == "next"
    assert not any(m["content"] == "fact 0" for m in sent)


def test_a_failed_summary_raises_and_changes_nothing() -> None:
    backend = ScriptedBackend()
    session = scripted_session(backend)
    for n in range(4):
        session.send(f"fact {n}", renderer=RecordingRenderer())
    before = list(session.conversation.messages)
    backend.add(ServerError("summary server down"))
    with pytest.raises(CompactionFailed, match="summary server down"):
        session.compact(keep_turns=1)
    assert session.conversation.messages == before
    assert session.conversation.summaries == []
