"""Team mode in a real Chromium: bound beyond loopback with users, a Japanese browser.

Each user signs in with a password, sees only their own conversations (another's
id is a 404), the shell tool is never offered, and state changes need the page's
own origin.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.support.browser import Browser, ServedChat, serve_chat, start_browser, wait_for
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.helpers import chatbot_executable, scrubbed_environment

PASSWORDS = {"alice": "correct horse battery", "bob": "staple paper clip"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = start_browser(language="ja")
    yield chromium
    chromium.close()


def _hash(home: Path, password: str) -> str:
    done = subprocess.run(
        [chatbot_executable(), "serve", "--hash-password"],
        input=password + "\n",
        env=scrubbed_environment(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().split(":", 1)[1]


@pytest.fixture(scope="module")
def served(fake: FakeOpenAIServer, home: Path) -> Iterator[ServedChat]:
    users = home / "users.txt"
    users.write_text(
        "# team\n" + "".join(f"{name}:{_hash(home, pw)}\n" for name, pw in PASSWORDS.items()),
        encoding="utf-8",
    )
    personas = home / "shell.toml"
    personas.write_text(
        '[personas.shell-helper]\nsystem = "Run commands."\ntools = ["shell"]\n', encoding="utf-8"
    )
    args = ["--host", "0.0.0.0", "--users", str(users), "--personas", str(personas)]
    with serve_chat(home, base_url=fake.base_url, args=args) as chat:
        port = re.search(r":(\d+)/", chat.url)
        assert port is not None
        chat.url = chat.origin = f"http://127.0.0.1:{port.group(1)}"
        yield chat


def sign_in(browser: Browser, served: ServedChat, user: str, password: str) -> None:
    driver = browser.driver
    driver.delete_all_cookies()
    driver.get(served.origin + "/")
    driver.find_element(By.NAME, "user").send_keys(user)
    field = driver.find_element(By.NAME, "password")
    field.send_keys(password)
    field.send_keys(Keys.ENTER)


def chat(browser: Browser, text: str) -> None:
    box = browser.driver.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Message"]')
    box.send_keys(text)
    box.send_keys(Keys.ENTER)
    wait_for(lambda: browser.driver.find_elements(By.CSS_SELECTOR, '[data-role="assistant"]'))
    wait_for(lambda: not browser.driver.find_elements(By.CSS_SELECTOR, '[aria-label="Stop"]'))


def test_a_wrong_password_is_refused(browser: Browser, served: ServedChat) -> None:
    sign_in(browser, served, "alice", "not her password")
    error = wait_for(lambda: browser.driver.find_element(By.ID, "sign-in-error"))
    wait_for(lambda: error.is_displayed())
    assert "サインインできませんでした" in error.text  # a Japanese browser reads Japanese
    assert browser.driver.get_cookie("chatbot_session") is None


def test_each_user_sees_only_their_own_conversations(
    browser: Browser, served: ServedChat, fake: FakeOpenAIServer
) -> None:
    sign_in(browser, served, "alice", PASSWORDS["alice"])
    wait_for(lambda: browser.js("return document.querySelector('#persona option') !== null"))
    assert browser.js("return document.documentElement.lang") == "ja"
    assert browser.driver.find_element(By.ID, "send").text == "送信"
    chat(browser, "alice's private plan")
    alice_id = wait_for(lambda: browser.js("return location.hash.slice(2)"))

    sign_in(browser, served, "bob", PASSWORDS["bob"])
    wait_for(lambda: browser.js("return document.querySelector('#persona option') !== null"))
    assert "alice" not in browser.driver.find_element(By.ID, "conversation-list").text
    for path, method in (
        (f"/api/conversations/{alice_id}", "GET"),
        (f"/api/conversations/{alice_id}/export?format=md", "GET"),
        (f"/api/conversations/{alice_id}", "DELETE"),
    ):
        status, body = browser.fetch(path, method=method)
        assert status == 404, (path, body)
        assert "alice" not in body
    status, body = browser.fetch(
        "/api/turns", method="POST", body={"chat": alice_id, "text": "leak it"}
    )
    assert status == 404
    assert not any("leak it" in json.dumps(r.body) for r in fake.chat_requests)
    # Bob's own chat lives in his own store file.
    chat(browser, "bob's note")
    stores = sorted(p.parent.name for p in served.data_dir.glob("web-users/*/*.sqlite3"))
    assert stores == ["alice", "bob"]


def test_the_shell_tool_is_never_offered_beyond_loopback(
    browser: Browser, served: ServedChat, fake: FakeOpenAIServer
) -> None:
    sign_in(browser, served, "bob", PASSWORDS["bob"])
    wait_for(lambda: browser.js("return document.querySelector('#persona option') !== null"))
    Select(browser.driver.find_element(By.ID, "persona")).select_by_value("shell-helper")
    wait_for(
        lambda: browser.js("return document.getElementById('persona').value") == "shell-helper"
    )
    chat(browser, "list my files")
    body = fake.chat_requests[-1].body
    assert body["messages"][0]["content"] == "Run commands."
    assert "shell" not in json.dumps(body.get("tools") or [])


def _cookie(browser: Browser) -> str:
    cookie = browser.driver.get_cookie("chatbot_session")
    assert cookie is not None
    return f"chatbot_session={cookie['value']}"


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_changes_from_another_origin_and_oversized_bodies_are_refused(
    browser: Browser, served: ServedChat, fake: FakeOpenAIServer
) -> None:
    sign_in(browser, served, "bob", PASSWORDS["bob"])
    wait_for(lambda: browser.driver.get_cookie("chatbot_session"))
    before = len(fake.chat_requests)
    headers = {"cookie": _cookie(browser), "content-type": "application/json"}
    status, text = _post(
        served.origin + "/api/turns",
        b'{"chat": "1", "text": "csrf"}',
        {**headers, "origin": "http://evil.example"},
    )
    assert status == 403 and "own page" in text
    status, text = _post(served.origin + "/api/turns", b'{"chat": "1", "text": "x"}', headers)
    assert status == 403  # no Origin and no Sec-Fetch-Site: not the page
    # A body announced as 3 MB is refused from its headers, before it is read.
    host = served.origin.removeprefix("http://")
    name, port = host.rsplit(":", 1)
    with socket.create_connection((name, int(port)), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /api/turns HTTP/1.1\r\nHost: {host}\r\nOrigin: {served.origin}\r\n"
                f"Cookie: {headers['cookie']}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {3 * 1024 * 1024}\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, text = answer.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413")
    assert json.loads(text) == {"error": "too large: a request may carry at most 2.1 MB"}
    assert len(fake.chat_requests) == before
