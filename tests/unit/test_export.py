"""Markdown transcripts and the JSON export/import round trip."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.errors import ConfigError, StoreError
from chatbot.store.database import Store
from chatbot.store.export import from_json, to_json, to_markdown
from chatbot.store.records import StoredConversation

STARTED = 1_700_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "conversations.sqlite3", clock=itertools.count(STARTED).__next__)
    yield opened
    opened.close()


def _conversation(store: Store) -> StoredConversation:
    """A chat with a persona switch, a summary and a reply cut off inside a code block."""
    cid = store.create_conversation(
        persona="tutor", model="small-model", system_prompt="You teach.\nBe patient."
    )

    def add(
        message: Message, persona: str = "tutor", model: str = "small-model", **kw: object
    ) -> None:
        store.append_message(cid, message, persona=persona, model=model, **kw)  # type: ignore[arg-type]

    add(Message(role=Role.SYSTEM, content="We discussed loops.", summary=True, created_at=10.0))
    add(Message(role=Role.USER, content="Show me a generator", created_at=11.0))
    add(
        Message(
            role=Role.ASSISTANT, content="```python\ndef gen():\n    yield 1\n```", created_at=12.0
        ),
        params={"temperature": 0.3},
        prompt_tokens=40,
        completion_tokens=12,
    )
    store.update_conversation(cid, persona="coder", model="big-model")
    add(Message(role=Role.USER, content="Now a coroutine", created_at=13.0), "coder", "big-model")
    add(
        Message(
            role=Role.ASSISTANT,
            content="```python\nasync def co():\n    await",
            status=ReplyStatus.INTERRUPTED,
            created_at=14.0,
        ),
        "coder",
        "big-model",
    )
    return store.load_conversation(cid)


def _sections(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("## ")]


def test_markdown_transcript_reads_well(store: Store) -> None:
    conv = _conversation(store)
    text = to_markdown(conv, tz=UTC)
    lines = text.splitlines()

    assert lines[0] == "# Show me a generator"
    when = datetime.fromtimestamp(STARTED, UTC).strftime("%Y-%m-%d")
    assert "coder" in lines[2] and "big-model" in lines[2] and when in lines[2]
    assert "> You teach." in lines and "> Be patient." in lines
    assert _sections(text) == [
        "## Summary of earlier turns",
        "## You",
        "## Assistant",
        "## You",
        "## Assistant",
    ]
    # The first reply came from the earlier persona, and the transcript says so.
    first_reply = text.split("## Assistant")[1]
    assert "_tutor · small-model_" in first_reply
    assert "_(interrupted)_" not in first_reply
    last_reply = text.split("## Assistant")[2]
    assert "_(interrupted)_" in last_reply
    # The cut-off code block is closed, so the note after it is not swallowed as code.
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0
    assert (
        last_reply.index("await") < last_reply.rindex("```") < last_reply.index("_(interrupted)_")
    )
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_untitled_conversation_without_system_prompt(store: Store) -> None:
    cid = store.create_conversation(persona="p", model="m", system_prompt="")
    text = to_markdown(store.load_conversation(cid), tz=UTC)
    assert text.startswith("# Untitled conversation\n")
    assert ">" not in text


def test_json_round_trip_creates_a_new_equal_conversation(store: Store) -> None:
    original = _conversation(store)
    exported = to_json(original)
    assert exported["format"] == "chatbot-conversation" and exported["version"] == 1

    new_id = store.import_conversation(from_json(json.loads(json.dumps(exported))))
    assert new_id != original.info.id
    assert {c.id for c in store.list_conversations()} == {original.info.id, new_id}

    again = to_json(store.load_conversation(new_id))
    assert again["updated_at"] != exported["updated_at"]
    assert {**again, "updated_at": None} == {**exported, "updated_at": None}


def test_import_titles_untitled_conversations_from_the_first_question(store: Store) -> None:
    data = {
        "format": "chatbot-conversation",
        "version": 1,
        "title": None,
        "persona": "p",
        "model": "m",
        "system_prompt": "",
        "created_at": 5.0,
        "messages": [{"role": "user", "content": "Plan a trip\nto Oslo"}],
    }
    loaded = store.load_conversation(store.import_conversation(from_json(data)))
    assert loaded.info.title == "Plan a trip"
    assert [(m.role, m.status, m.created_at) for m in loaded.messages] == [
        (Role.USER, ReplyStatus.COMPLETE, 5.0)
    ]
    assert loaded.meta[loaded.messages[0].id or 0].persona == "p"


def _valid() -> dict[str, object]:
    return {
        "format": "chatbot-conversation",
        "version": 1,
        "title": "t",
        "persona": "p",
        "model": "m",
        "system_prompt": "s",
        "created_at": 1.0,
        "updated_at": 2.0,
        "messages": [
            {"role": "user", "content": "hi", "status": "complete", "created_at": 1.0},
            {"role": "assistant", "content": "yo", "status": "complete", "created_at": 1.5},
        ],
    }


def _broken(path: str, value: object) -> dict[str, object]:
    data = copy.deepcopy(_valid())
    target: object = data
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]  # type: ignore[index]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        assert isinstance(target, dict)
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ([], "top level"),
        ("text", "top level"),
        (_broken("format", "something-else"), "format"),
        (_broken("version", "1"), "version"),
        (_broken("persona", None), "persona"),
        (_broken("created_at", float("nan")), "created_at"),
        (_broken("messages", {}), "messages"),
        (_broken("messages.0", "hi"), "messages[0]"),
        (_broken("messages.1.role", "robot"), "messages[1].role"),
        (_broken("messages.0.content", 3), "messages[0].content"),
        (_broken("messages.1.status", "done"), "messages[1].status"),
        (_broken("messages.1.prompt_tokens", -1), "messages[1].prompt_tokens"),
        (_broken("messages.1.params", [1]), "messages[1].params"),
        (_broken("messages.0.summary", "yes"), "messages[0].summary"),
    ],
)
def test_bad_json_is_a_one_line_config_error(data: object, complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_json(data, source="backup.json")
    message = str(caught.value)
    assert not isinstance(caught.value, StoreError)
    assert message.startswith("backup.json ")
    assert complaint in message
    assert "\n" not in message


def test_newer_export_format_asks_for_an_upgrade() -> None:
    from chatbot.store.export import FORMAT_VERSION

    newer = FORMAT_VERSION + 1
    with pytest.raises(ConfigError, match=re.escape(f"newer chatbot (format version {newer})")):
        from_json(_broken("version", newer))


def test_valid_input_is_accepted() -> None:
    imported = from_json(_valid())
    assert [(m.message.role, m.message.content) for m in imported.messages] == [
        (Role.USER, "hi"),
        (Role.ASSISTANT, "yo"),
    ]
