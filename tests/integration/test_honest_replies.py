"""Issue 11 beyond the fault table: the cache, /continue after a cut, and a URL password
kept out of the debug log and every file.

The table in test_faults.py checks each misbehaving server in both modes; these check
what happens around it, the way a user would run into it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.api.client import ChatClient
from chatbot.api.events import ChatRequest, Finished
from chatbot.conversation.messages import ReplyStatus
from chatbot.errors import ContextLengthExceeded
from chatbot.local.server_log import ServerLog
from chatbot.secrets import Redactor
from chatbot.servers.embedded import EmbeddedBackend
from chatbot.store.database import Store
from chatbot.store.store_journal import StoreReplyCache
from tests.support.fakeserver import Reply
from tests.support.faultkit import (
    KEY,
    URL_PASSWORD,
    assistant,
    echo,
    endpoint,
    environment,
    repl_harness,
    run_one_shot,
    user,
)

QUESTION = "what is the command to free port 8080?"
ANSWER = "Run fuser -k 8080/tcp to stop whatever holds it."


def test_a_cut_reply_offers_continue_and_continue_asks_for_the_rest(tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path) as repl,
    ):
        assert target.server is not None
        target.server.enqueue(Reply(text=ANSWER[:20], finish_reason=None, framing="close"))
        cut = repl.step(QUESTION + "\r")
        (line,) = cut.notices
        assert line.endswith("; /continue asks for the rest, /retry asks again")
        target.server.enqueue(Reply(text=ANSWER[20:]))
        more = repl.step("/continue\r")
        assert more.notices == []
        sent = target.server.chat_requests[-1].body["messages"]
        assert {"role": "assistant", "content": ANSWER[:20]} in sent
        assert more.shown == [ANSWER[20:]]
        assert repl.held == repl.stored
        assert repl.held[1] == assistant(ANSWER[:20], ReplyStatus.CUT)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(text=ANSWER, finish_reason=None, done=False), id="cut"),
        pytest.param(Reply(text=""), id="empty"),
        pytest.param(Reply(text=ANSWER, finish_reason="abort"), id="abort"),
        pytest.param(Reply(text="", tool_calls=("f",), finish_reason="tool_calls"), id="tools"),
    ],
)
def test_the_same_question_after_a_bad_reply_is_asked_again_not_cached(
    reply: Reply, tmp_path: Path
) -> None:
    with endpoint("server") as target:
        assert target.server is not None
        environ = environment(tmp_path, base_url=target.base_url)
        target.server.enqueue(reply)
        first = run_one_shot(["--raw", "--cache", QUESTION], environ=environ)
        assert first.code == 1
        second = run_one_shot(["--raw", "--cache", QUESTION], environ=environ)
        assert (second.code, second.stdout, second.said) == (0, echo(QUESTION) + "\n", [])
        third = run_one_shot(["--raw", "--cache", QUESTION], environ=environ)
        assert third.said == ["chatbot: (answered from the response cache)"]
        assert len(target.server.chat_requests) == 2


def test_an_empty_answer_left_in_an_old_cache_is_never_served(tmp_path: Path) -> None:
    with endpoint("server") as target:
        assert target.server is not None
        environ = environment(tmp_path, base_url=target.base_url)
        # Ask once so the store exists, then plant an empty answer for the next request.
        assert run_one_shot(["--raw", "--no-store", "hi"], environ=environ).code == 0
        store = Store.open(tmp_path / "data" / "conversations.sqlite3")
        try:
            request = ChatRequest(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": QUESTION},
                ],
            )
            StoreReplyCache(store).remember(request, persona="default", reply="")
        finally:
            store.close()
        result = run_one_shot(["--raw", "--cache", QUESTION], environ=environ)
        assert (result.code, result.stdout) == (0, echo(QUESTION) + "\n")
        assert len(target.server.chat_requests) == 2


def test_a_url_password_stays_out_of_the_debug_log_and_every_file(tmp_path: Path) -> None:
    with endpoint("server", password=True) as target:
        assert target.server is not None
        environ = environment(tmp_path, base_url=target.base_url)
        target.server.enqueue(
            Reply(raw_body="<title>Portal</title>"),
            Reply(status=404, raw_body="404 page not found", content_type="text/plain"),
            Reply(text=ANSWER, finish_reason=None),
        )
        for _ in range(3):
            result = run_one_shot(["--raw", "--debug", QUESTION], environ=environ)
            assert result.code == 1
            assert target.shown_url in result.stderr or "cut" in result.stderr
            assert URL_PASSWORD not in result.stdout + result.stderr
        with endpoint("refused", password=True) as down:
            gone = run_one_shot(
                ["--raw", "--debug", QUESTION],
                environ=environment(tmp_path, base_url=down.base_url),
            )
            assert gone.said[-1] == f"chatbot: cannot reach {down.shown_url} (connection refused)"
        log = (tmp_path / "data" / "debug.log").read_text(encoding="utf-8")
        assert "bob:***@127.0.0.1" in log
        for path in tmp_path.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert URL_PASSWORD.encode() not in data, path
                assert KEY.encode() not in data, path


def test_a_repl_conversation_after_an_empty_reply_sends_no_empty_answer(tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path) as repl,
    ):
        assert target.server is not None
        target.server.enqueue(Reply(text=""))
        repl.step(QUESTION + "\r")
        repl.step("and now?\r")
        sent = target.server.chat_requests[-1].body["messages"]
        # The unanswered question goes with the new one: the roles alternate (issue 23).
        assert [(m["role"], m["content"]) for m in sent] == [
            ("system", sent[0]["content"]),
            ("user", f"{QUESTION}\n\nand now?"),
        ]
        assert (
            repl.held
            == repl.stored
            == [
                user(QUESTION),
                assistant("", ReplyStatus.EMPTY),
                user("and now?"),
                assistant(echo(f"{QUESTION}\n\nand now?")),
            ]
        )


class RunningAt:
    """Our local server's runtime as the backend sees it: already up at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url

    def base_url(self) -> str:
        return self.url


def test_an_empty_stream_from_our_own_server_shows_what_it_logged(tmp_path: Path) -> None:
    """llama-cpp-python logs an over-long prompt's error and sends an empty 200 stream."""
    log = tmp_path / "local-server.log"
    log.write_text("INFO: started\n", encoding="utf-8")
    logged = "ValueError: Requested tokens (3031) exceed context window of 2048\n"

    def fail_quietly(body: dict[str, object]) -> Reply:
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"Traceback (most recent call last):\n  ...\n{logged}")
        return Reply(raw_body="", content_type="text/event-stream")

    with endpoint("server") as target:
        assert target.server is not None
        client = EmbeddedBackend(
            RunningAt(target.base_url),  # type: ignore[arg-type]
            client_for=lambda url: ChatClient(
                api_key="not-needed", base_url=url, timeout=5, max_retries=0
            ),
            log=ServerLog(log, wait=0.2),
            redact=Redactor([]),
        )
        request = ChatRequest(model="fake-model", messages=[{"role": "user", "content": "hi"}])
        try:
            target.server.responder = fail_quietly
            with pytest.raises(ContextLengthExceeded) as caught:
                list(client.stream(request))
            assert "(Requested tokens (3031) exceed context window of 2048)" in str(caught.value)
            # Nothing logged this time: an empty reply stays an empty reply.
            target.server.responder = lambda body: Reply(
                raw_body="", content_type="text/event-stream"
            )
            assert list(client.stream(request)) == [Finished(None)]
        finally:
            client.close()


def test_help_and_slash_help_say_what_a_cut_or_empty_reply_means(tmp_path: Path) -> None:
    helped = run_one_shot(["--help"], environ=environment(tmp_path, base_url="http://h/v1"))
    text = " ".join(helped.stdout.split())
    assert helped.code == 0
    assert "1 when the reply failed, was cut, empty, only tool calls, or not a chat answer" in text
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path) as repl,
    ):
        shown = " ".join(repl.step("/help\r").everything.split())
    assert "/retry regenerate the last reply (also one that was cut, empty or failed)" in shown
    assert "/continue ask the model to go on after a cut reply" in shown
