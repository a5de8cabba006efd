"""Issue 23 beyond the fault table: requests that stay valid for strict chat templates,
a lone ``</think>`` read as thinking, and what refusals and rate limits leave behind.

Against the fake server over real HTTP, one-shot in-process and the REPL on a real
PromptSession (the fault table's harness).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.store.database import Store
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.faultkit import (
    KEY,
    assistant,
    cached_replies,
    echo,
    endpoint,
    environment,
    repl_harness,
    run_one_shot,
    user,
)
from tests.support.helpers import RecordingRenderer, make_session

ALTERNATE = "Conversation roles must alternate user/assistant/user/assistant/..."


def roles(body: dict[str, object]) -> list[str]:
    messages = body["messages"]
    assert isinstance(messages, list)
    return [str(m["role"]) for m in messages]


# -- roles that must alternate -------------------------------------------------------


def test_after_an_empty_reply_the_next_question_is_still_a_valid_request(
    tmp_path: Path,
) -> None:
    with FakeOpenAIServer(strict_roles=True) as server:
        environ = environment(tmp_path, base_url=server.base_url)
        server.enqueue(Reply(text=""))
        first = run_one_shot(["--raw", "first question"], environ=environ)
        assert first.code == 1 and "the reply is empty" in first.stderr
        server.enqueue(Reply(text="", finish_reason=None, done=False))
        second = run_one_shot(["--raw", "-c", "second question"], environ=environ)
        assert second.code == 1
        third = run_one_shot(["--raw", "-c", "third question"], environ=environ)

        assert third.code == 0, third.stderr
        body = server.chat_requests[-1].body
        assert roles(body) == ["system", "user"]
        # Nothing the user asked is lost: the unanswered questions go with the new one.
        assert body["messages"][-1]["content"] == (
            "first question\n\nsecond question\n\nthird question"
        )
        assert all("roles must alternate" not in r.stderr for r in (first, second, third))


def test_the_repl_goes_on_after_a_failed_reply_without_a_refused_turn(tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path) as repl,
    ):
        assert target.server is not None
        target.server.enqueue(Reply(text="", tool_calls=("get_weather",)))
        repl.step("weather?\r")
        step = repl.step("never mind: what is 2 + 2?\r")
        assert step.notices == []
        assert repl.held == repl.stored
        assert roles(target.server.chat_requests[-1].body) == ["system", "user"]


def test_a_server_that_still_refuses_for_roles_says_so_with_the_fix(tmp_path: Path) -> None:
    body = {"error": {"message": ALTERNATE, "type": "BadRequestError", "code": 400}}
    with FakeOpenAIServer() as server:
        server.enqueue(Reply(status=400, error_body=body))
        result = run_one_shot(
            ["--raw", "hello"], environ=environment(tmp_path, base_url=server.base_url)
        )
    assert result.code == 1
    assert result.said == [
        f"chatbot: the server needs user and assistant messages to alternate and refused this "
        f"conversation ({ALTERNATE}); start a fresh one (/clear, or without -c) to go on"
    ]


# -- a lone </think> --------------------------------------------------------------------

THOUGHT = "Okay, the user asks for 2 + 2. That is 4."
CLOSE_ONLY = f"{THOUGHT}\n</think>\n\nThe answer is 4."


def test_a_lone_closing_tag_is_read_as_thinking_and_never_sent_back(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        environ = environment(tmp_path, base_url=server.base_url)
        server.enqueue(Reply(text=CLOSE_ONLY, chunk_chars=3))
        first = run_one_shot(["--raw", "2 + 2?"], environ=environ)
        assert first.code == 0, first.stderr
        second = run_one_shot(["--raw", "-c", "and 3 + 3?"], environ=environ)
        assert second.code == 0
        sent = json.dumps(server.chat_requests[-1].body)

    assert "The answer is 4." in sent
    assert "think>" not in sent and "Okay, the user" not in sent
    with Store.open(tmp_path / "data" / "conversations.sqlite3") as store:
        latest = store.latest_conversation_id()
        assert latest is not None
        replies = [m for m in store.load_conversation(latest).messages if m.role is Role.ASSISTANT]
    assert replies[0].content == "The answer is 4."
    assert replies[0].thinking == THOUGHT


class ThinkingRecorder(RecordingRenderer):
    def __init__(self) -> None:
        super().__init__()
        self.thoughts: list[str] = []

    def think(self, text: str) -> None:
        self.thoughts.append(text)


def test_after_one_lone_closing_tag_the_models_next_replies_start_as_thinking(
    server: FakeOpenAIServer,
) -> None:
    session = make_session(server.base_url)
    server.enqueue(Reply(text=CLOSE_ONLY), Reply(text="Hmm, 3 + 3.\n</think>\n\n6", chunk_chars=2))
    session.send("2 + 2?", renderer=RecordingRenderer())
    shown = ThinkingRecorder()
    result = session.send("3 + 3?", renderer=shown)

    assert result.reply.content == "6" and result.reply.thinking == "Hmm, 3 + 3."
    assert "".join(shown.chunks) == "6"  # the second reply's thinking is never shown as text
    assert "".join(shown.thoughts) == "Hmm, 3 + 3.\n"


# -- refusals, thinking parts and damaged bytes -------------------------------------


def test_a_refusal_is_stored_as_one_and_never_cached(tmp_path: Path) -> None:
    refusal = "I'm sorry, but I can't help with that."
    with FakeOpenAIServer() as server:
        environ = environment(tmp_path, base_url=server.base_url)
        server.enqueue(Reply(text="", refusal=refusal))
        result = run_one_shot(["--raw", "--cache", "do the thing"], environ=environ)
        again = run_one_shot(["--raw", "--cache", "do the thing"], environ=environ)
        assert len(server.chat_requests) == 2  # asked again, not served from the cache

    assert result.code == 1 and result.stdout == refusal + "\n"
    assert again.stdout == echo("do the thing") + "\n"
    store = tmp_path / "data" / "conversations.sqlite3"
    assert refusal not in cached_replies(store)
    with Store.open(store) as opened:
        latest = opened.latest_conversation_id()
        assert latest is not None
        first = opened.load_conversation(latest - 1)
    assert [(m.role.value, m.content, m.status) for m in first.messages] == [
        ("user", "do the thing", ReplyStatus.COMPLETE),
        ("assistant", refusal, ReplyStatus.REFUSED),
    ]


def test_a_rate_limit_beyond_max_wait_gives_up_at_once_in_one_line(tmp_path: Path) -> None:
    headers = {"Retry-After": "120"}
    with FakeOpenAIServer() as server:
        server.enqueue(Reply(status=429, headers=headers))
        result = run_one_shot(
            ["--raw", "--max-wait", "30", "hello"],
            environ=environment(tmp_path, base_url=server.base_url),
        )
        assert len(server.chat_requests) == 1
    (line,) = result.said
    assert re.fullmatch(
        r"chatbot: rate limited by \S+; the server asks to wait 2m \(.*\) — longer than "
        r"--max-wait 30s, so not waiting",
        line,
    )
    assert KEY not in result.stderr


def test_the_repl_says_a_stored_conversation_is_unchanged_by_a_refusal(tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path) as repl,
    ):
        assert target.server is not None
        target.server.enqueue(Reply(text="", refusal="No."))
        repl.step("question\r")
        assert repl.held == repl.stored == [user("question"), assistant("No.", ReplyStatus.REFUSED)]
        step = repl.step("another\r")
        assert step.shown == [echo("another")]
        # The refusal went back as the assistant's turn: the roles alternate.
        assert roles(target.server.chat_requests[-1].body) == [
            "system",
            "user",
            "assistant",
            "user",
        ]


def test_a_later_run_knows_the_model_opens_thinking_in_its_prompt(tmp_path: Path) -> None:
    """One-shot: after one run saw the lone tag, later runs print the answer alone."""
    with FakeOpenAIServer() as server:
        environ = environment(tmp_path, base_url=server.base_url)
        server.enqueue(Reply(text=CLOSE_ONLY), Reply(text=CLOSE_ONLY, chunk_chars=2))
        first = run_one_shot(["--raw", "2 + 2?"], environ=environ)
        second = run_one_shot(["--raw", "2 + 2 again?"], environ=environ)

    assert first.code == second.code == 0
    assert second.stdout == "The answer is 4.\n"
    assert "Okay, the user" not in second.stdout
    remembered = json.loads((tmp_path / "data" / "think-tags.json").read_text(encoding="utf-8"))
    model = server.chat_requests[0].body["model"]
    assert remembered == [f"{server.base_url}|{model}"]
