"""``chatbot serve`` over plain HTTP, as the page talks to it: drafts and languages.

A page keeps the name of a new chat it has not sent anything in yet; the server may
close that chat while it is idle (it keeps a bounded number open per user) or be
restarted, and the page's next message must still go through. Every line the server
says (a reply's outcome, an error) is in the reader's browser language, whatever
language the server's own terminal speaks.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from chatbot.i18n import translator
from tests.support.browser import ServedChat, serve_chat
from tests.support.fakeserver import FakeOpenAIServer, Reply

JAPANESE = {"accept-language": "ja,en-US;q=0.8"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@pytest.fixture
def served(server: FakeOpenAIServer, tmp_path: Path) -> Iterator[ServedChat]:
    # The server's own terminal speaks English: the reader's language must win.
    with serve_chat(tmp_path, base_url=server.base_url, env={"LANG": "C.UTF-8"}) as chat:
        yield chat


def _cookie(served: ServedChat) -> str:
    """Follow the printed link as a browser does: its token becomes the session cookie."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(served.url, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 303
        return str(exc.headers["set-cookie"]).split(";")[0]
    raise AssertionError("the link did not set a cookie")


def _call(
    served: ServedChat,
    path: str,
    *,
    cookie: str,
    body: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        served.origin + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "cookie": cookie,
            "origin": served.origin,
            "content-type": "application/json",
            **(headers or {}),
        },
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _events(raw: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


def _new_chat(served: ServedChat, cookie: str) -> str:
    status, raw = _call(served, "/api/state", cookie=cookie)
    assert status == 200
    chat = json.loads(raw)["status"]["chat"]
    assert isinstance(chat, str) and re.fullmatch(r"d-[\w-]+", chat)
    return chat


def test_a_new_chat_closed_while_idle_still_takes_the_next_message(
    served: ServedChat, server: FakeOpenAIServer
) -> None:
    cookie = _cookie(served)
    first = _new_chat(served, cookie)
    # Many tabs opened since (each page load is a new chat): the first one was closed.
    for _ in range(30):
        _new_chat(served, cookie)
    server.enqueue(Reply(text="still here"))
    status, raw = _call(
        served, "/api/turns", cookie=cookie, body={"chat": first, "text": "hello again"}
    )
    assert status == 200, raw
    events = _events(raw)
    assert events[-1]["t"] == "done" and events[-1]["status"] == "complete"
    assert any("still here" in str(e.get("html", "")) for e in events)
    assert server.chat_requests[-1].body["messages"][-1]["content"] == "hello again"


def test_a_name_the_page_never_had_is_still_no_conversation(served: ServedChat) -> None:
    cookie = _cookie(served)
    for name in ("d-", "d-<script>", "42", "x" * 20):
        status, raw = _call(served, "/api/turns", cookie=cookie, body={"chat": name, "text": "x"})
        assert status == 404, (name, raw)


def test_the_server_speaks_each_reader_s_language(
    served: ServedChat, server: FakeOpenAIServer
) -> None:
    ja = translator("ja")
    cookie = _cookie(served)
    status, raw = _call(served, "/api/conversations/999", cookie=cookie, headers=JAPANESE)
    assert status == 404
    assert json.loads(raw)["error"] == ja("no such conversation") != "no such conversation"
    status, raw = _call(served, "/api/conversations/999", cookie=cookie)
    assert json.loads(raw)["error"] == "no such conversation"

    # A reply cut by the token limit: the engine's own outcome line, in Japanese.
    chat = _new_chat(served, cookie)
    server.enqueue(Reply(text="途中まで", finish_reason="length"))
    status, raw = _call(
        served, "/api/turns", cookie=cookie, body={"chat": chat, "text": "長い話"}, headers=JAPANESE
    )
    assert status == 200
    outcome = next(e for e in _events(raw) if e["t"] == "outcome")
    text = str(outcome["text"])
    assert re.search(r"[\u3040-\u30ff]", text), text
    assert "continue" in outcome["actions"]
    # The same server, the next reader in English.
    chat = _new_chat(served, cookie)
    server.enqueue(Reply(text="partial", finish_reason="length"))
    status, raw = _call(served, "/api/turns", cookie=cookie, body={"chat": chat, "text": "long"})
    outcome = next(e for e in _events(raw) if e["t"] == "outcome")
    assert not re.search(r"[\u3040-\u30ff]", str(outcome["text"])), outcome


def test_a_full_server_refuses_at_once_and_a_refused_or_unknown_chat_keeps_no_place(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    with serve_chat(
        tmp_path,
        base_url=server.base_url,
        env={"LANG": "C.UTF-8", "CHATBOT_WEB_MAX_TURNS": "1"},
    ) as served:
        cookie = _cookie(served)
        chat = _new_chat(served, cookie)
        # Unknown conversations and bad requests give their place back: were they to
        # keep it, a server limited to one turn would refuse everyone from now on.
        for _ in range(3):
            status, _raw = _call(
                served, "/api/turns", cookie=cookie, body={"chat": "424242", "text": "x"}
            )
            assert status == 404
            status, _raw = _call(served, "/api/turns", cookie=cookie, body={"chat": chat})
            assert status == 400
        server.enqueue(Reply(text="first " * 60, chunk_chars=6, delay=0.05))
        request = urllib.request.Request(
            served.origin + "/api/turns",
            data=json.dumps({"chat": chat, "text": "talk"}).encode(),
            headers={"cookie": cookie, "origin": served.origin, "content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as streaming:
            assert streaming.status == 200
            assert json.loads(streaming.readline())["t"] == "start"
            # While it streams, another chat is told in one line, whatever chat it names.
            for name in (_new_chat(served, cookie), "424242"):
                status, raw = _call(
                    served, "/api/turns", cookie=cookie, body={"chat": name, "text": "me too"}
                )
                assert status == 429, raw
                assert "as many messages as it can" in json.loads(raw)["error"]
            rest = _events(streaming.read())
        assert rest[-1]["t"] == "done"
        # Its place is free again once it ended.
        server.enqueue(Reply(text="your turn"))
        status, raw = _call(
            served, "/api/turns", cookie=cookie, body={"chat": chat, "text": "and now?"}
        )
        assert status == 200 and _events(raw)[-1]["status"] == "complete"
