"""The web chat for a reader whose browser asks for Japanese, on a server that speaks English.

The page's own words and everything the engine says during a turn (how a reply
ended, an error) come in the browser's language; the server's terminal keeps its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from chatbot.i18n import translator
from tests.support.browser import Browser, ServedChat, serve_chat, start_browser, wait_for
from tests.support.fakeserver import FakeOpenAIServer, Reply

KANA = re.compile(r"[\u3040-\u30ff]")
ja = translator("ja")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = start_browser(language="ja")
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def served(fake: FakeOpenAIServer, home: Path) -> Iterator[ServedChat]:
    with serve_chat(home, base_url=fake.base_url, env={"LANG": "C.UTF-8"}) as chat:
        yield chat


def test_a_japanese_browser_gets_the_page_and_the_engine_in_japanese(
    browser: Browser, served: ServedChat, fake: FakeOpenAIServer
) -> None:
    driver = browser.driver
    driver.get(served.url)
    wait_for(lambda: browser.js("return document.querySelector('#persona option') !== null"))
    assert browser.js("return document.documentElement.lang") == "ja"
    box = driver.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Message"]')
    assert box.get_attribute("placeholder") == ja(
        "Message (Enter sends, Shift+Enter for a new line)"
    )
    assert driver.find_element(By.ID, "send").text == ja("Send") != "Send"

    fake.enqueue(Reply(text="前半だけ", finish_reason="length"))
    box.click()
    box.send_keys("長い説明をください")
    box.send_keys(Keys.ENTER)

    def outcome() -> str:
        found = driver.find_elements(By.CSS_SELECTOR, '#messages [data-role="assistant"] .outcome')
        return found[-1].text if found else ""

    shown = wait_for(outcome, what="how the reply ended")
    # The engine's own line, from a server whose terminal speaks English.
    assert KANA.search(shown.split("\n")[0]), shown
    button = driver.find_element(By.CSS_SELECTOR, "#messages .outcome button.action-continue")
    assert button.text == ja("Continue") != "Continue"
    assert browser.csp_violations() == []
