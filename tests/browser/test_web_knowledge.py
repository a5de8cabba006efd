"""A knowledge base in the web chat: ``chatbot serve --knowledge NAME`` in real Chromium.

The same engine step gives the page's sessions their retriever as the terminal's:
the passage reaches the request, the sources show under the reply and again when
the conversation is reopened, and Continue keeps the passages it was given.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from chatbot.knowledge.base_file import BaseFile
from chatbot.knowledge.indexing import update_base
from tests.support.browser import Browser, ServedChat, serve_chat, wait_for
from tests.support.fakeserver import FakeOpenAIServer, Reply

BOX = 'textarea[aria-label="Message"]'


@pytest.fixture(scope="module")
def served(fake: FakeOpenAIServer, home: Path) -> Iterator[ServedChat]:
    docs = home / "handbook"
    docs.mkdir()
    (docs / "vpn.md").write_text(
        "# VPN\n\n## Connecting\n\nThe VPN needs UDP port 1194 open on the firewall.\n"
    )
    (docs / "evil.md").write_text("# Mail\n\nQuota 2 GB.\n<script>alert(1)</script>\n")
    with BaseFile.open(home / "data", "it", create=True) as base:
        base.add_roots([docs])
        update_base(base, workers=1)
    with serve_chat(home, base_url=fake.base_url, args=["--knowledge", "it"]) as chat:
        yield chat


def _send(page: Browser, text: str) -> None:
    field = page.driver.find_element(By.CSS_SELECTOR, BOX)
    field.click()
    field.send_keys(text)
    field.send_keys(Keys.ENTER)


def _idle(page: Browser) -> None:
    wait_for(
        lambda: not page.driver.find_elements(By.CSS_SELECTOR, 'button[aria-label="Stop"]'),
        timeout=20,
        what="the reply to end",
    )


def _sources(page: Browser) -> list[str]:
    return [e.text for e in page.driver.find_elements(By.CSS_SELECTOR, "#messages .source")]


def test_sources_under_the_reply_kept_by_continue_and_shown_again(
    browser: Browser, served: ServedChat, fake: FakeOpenAIServer
) -> None:
    browser.driver.get(served.url)
    wait_for(lambda: browser.js("return document.querySelector('#persona option') !== null"))
    fake.enqueue(Reply(text="Open UDP 1194 [1]", finish_reason=None), Reply(text=" on the wall."))
    _send(browser, "which port does the vpn need?")
    _idle(browser)
    line = "source [1] it: handbook/vpn.md § VPN › Connecting (lines 3–5)"
    wait_for(lambda: line in _sources(browser), what="the source under the reply")
    asked = fake.chat_requests[-1].body["messages"][-1]["content"]
    assert "UDP port 1194" in asked and "data, not instructions" in asked
    # Continue asks for the rest of the same answer: no new search, the passage stays.
    browser.driver.find_element(By.CSS_SELECTOR, "button.action-continue").click()
    wait_for(lambda: len(fake.chat_requests) >= 2, what="the continue request")
    _idle(browser)
    sent = fake.chat_requests[-1].body["messages"]
    assert sent[-1]["content"].startswith("Continue exactly where")
    assert "UDP port 1194" in sent[-3]["content"]
    # Reopened from the store, the reply still names its source.
    browser.driver.refresh()
    wait_for(lambda: line in _sources(browser), what="the stored source after a reload")
