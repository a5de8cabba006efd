"""One fake model server, one ``chatbot serve`` and one Chromium per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import Browser, start_browser
from tests.support.fakeserver import FakeOpenAIServer


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("web-home")
    (home / "config").mkdir()
    (home / "data").mkdir()
    return home


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = start_browser()
    yield chromium
    chromium.close()
