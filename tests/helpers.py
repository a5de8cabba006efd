"""Hand-written fakes and builders shared by the tests."""

from __future__ import annotations

from collections.abc import Mapping

from chatbot.chat import ChatSession
from chatbot.client import ChatClient
from chatbot.config import Config, resolve_config
from chatbot.personas import Persona, load_personas

TEST_KEY = "sk-test-SECRETKEY-0123456789"


class RecordingRenderer:
    """Collects what would have been rendered; can simulate Ctrl-C mid-reply."""

    def __init__(self, *, interrupt_after: int | None = None) -> None:
        self.chunks: list[str] = []
        self.finished = 0
        self._interrupt_after = interrupt_after

    def feed(self, text: str) -> None:
        self.chunks.append(text)
        if self._interrupt_after is not None and len(self.chunks) >= self._interrupt_after:
            raise KeyboardInterrupt

    def finish(self) -> None:
        self.finished += 1

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def make_config(base_url: str, **flags: object) -> Config:
    env: Mapping[str, str] = {"OPENAI_API_KEY": TEST_KEY}
    return resolve_config(flags={"base_url": base_url, **flags}, env=env)


def make_session(
    base_url: str,
    *,
    persona: Persona | None = None,
    timeout: float = 5.0,
    **flags: object,
) -> ChatSession:
    config = make_config(base_url, **flags)
    client = ChatClient(api_key=TEST_KEY, base_url=base_url, timeout=timeout, max_retries=0)
    return ChatSession(
        config=config, persona=persona or load_personas().get("default"), client=client
    )
