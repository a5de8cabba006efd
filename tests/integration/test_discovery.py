"""Local servers found on their own, and Ollama's real context as the budget.

The fake OpenAI-compatible server stands in for Ollama or LM Studio on a port
given through ``CHATBOT_DISCOVER_PORTS`` (conftest.py sets it empty, so no other
test ever looks for, or finds, a real server on the developer's machine).
"""

from __future__ import annotations

import io
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.input.base import PipeInput

from chatbot.cli.main import main
from chatbot.servers.discovery import DISCOVERY_BUDGET, Probe, discover_local_server
from chatbot.settings.config import ConfigFlags, resolve_config
from chatbot.settings.personas import load_personas
from tests.support.fakeserver import FakeOpenAIServer, OllamaModel, Reply

MODELS = ["llama3.2:latest", "qwen2.5:0.5b"]


@pytest.fixture
def ollama() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(models=MODELS) as fake:
        fake.ollama = {"llama3.2:latest": OllamaModel(context_length=131_072)}
        yield fake


def run(*args: str, **env: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = {**os.environ, **env}
    status = main(list(args), environ=environ, stdin=io.StringIO(""), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_running_ollama_is_found_used_and_named(ollama: FakeOpenAIServer) -> None:
    ollama.enqueue(Reply(text="Paris."))
    ports = f"ollama={closed_port()},lmstudio={ollama.port}"  # found on the second port

    status, out, err = run("What is the capital of France?", CHATBOT_DISCOVER_PORTS=ports)

    assert status == 0, err
    assert out.strip() == "Paris."
    assert err.splitlines() == [
        f"chatbot: no API key or server configured; found LM Studio at "
        f"http://127.0.0.1:{ollama.port} (models: llama3.2:latest, qwen2.5:0.5b), "
        "using llama3.2:latest"
    ]
    (chat,) = [r for r in ollama.requests if r.path == "/v1/chat/completions"]
    assert chat.body["model"] == "llama3.2:latest"


def test_the_model_the_user_asked_for_wins(ollama: FakeOpenAIServer) -> None:
    ollama.enqueue(Reply(text="ok"))
    status, _, err = run("hi", "-m", "qwen2.5:0.5b", CHATBOT_DISCOVER_PORTS=f"ollama={ollama.port}")

    assert status == 0, err
    assert err.rstrip().endswith("using qwen2.5:0.5b")
    (chat,) = [r for r in ollama.requests if r.path == "/v1/chat/completions"]
    assert chat.body["model"] == "qwen2.5:0.5b"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["hi"], {"CHATBOT_LOCAL": "0"}),
        (["--local", "--local-model", "/nowhere/model.gguf", "hi"], {}),
        (["hi"], {"CHATBOT_LOCAL_MODEL": "/nowhere/model.gguf"}),
    ],
    ids=["CHATBOT_LOCAL=0", "--local", "CHATBOT_LOCAL_MODEL"],
)
def test_saying_what_to_use_skips_the_look_around(
    ollama: FakeOpenAIServer, args: list[str], env: dict[str, str]
) -> None:
    status, _, err = run(*args, CHATBOT_DISCOVER_PORTS=f"ollama={ollama.port}", **env)

    assert status == 2
    assert "found" not in err
    assert ollama.requests == []


def test_a_configured_key_or_base_url_never_probes(ollama: FakeOpenAIServer) -> None:
    with FakeOpenAIServer() as configured:
        configured.enqueue(Reply(text="from the configured server"))
        status, out, _ = run(
            "hi",
            OPENAI_BASE_URL=configured.base_url,
            CHATBOT_DISCOVER_PORTS=f"ollama={ollama.port}",
        )

    assert status == 0
    assert out.strip() == "from the configured server"
    assert ollama.requests == []


def test_the_look_around_keeps_to_its_budget() -> None:
    # A port that accepts connections but never answers: the worst case.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        probes = [Probe("ollama", silent.getsockname()[1]), Probe("llamacpp", closed_port())]
        started = time.monotonic()
        found = discover_local_server(probes)
        took = time.monotonic() - started

    assert found is None
    assert took < DISCOVERY_BUDGET + 0.05
    started = time.monotonic()
    assert discover_local_server([Probe("ollama", closed_port())]) is None
    assert time.monotonic() - started < 0.05  # nobody listening: no waiting at all


def test_ollamas_context_length_becomes_the_budget(ollama: FakeOpenAIServer) -> None:
    from chatbot.api.client import ChatClient
    from chatbot.servers.ollama import OllamaServer

    persona = load_personas().get("default")
    config = resolve_config(flags=ConfigFlags(base_url=ollama.base_url), env={})

    def served() -> OllamaServer:
        client = ChatClient(api_key="x", base_url=ollama.base_url, timeout=5, max_retries=0)
        return OllamaServer(client, default_model=MODELS[0], offered=tuple(MODELS))

    assert config.params_for(persona, served()).context_window == 131_072

    # Served with a smaller num_ctx (its Modelfile): that is the real limit.
    ollama.ollama = {"llama3.2:latest": OllamaModel(context_length=131_072, num_ctx=8192)}
    assert config.params_for(persona, served()).context_window == 8192

    # An explicit --context-window still wins.
    flagged = resolve_config(
        flags=ConfigFlags(base_url=ollama.base_url, context_window=2000), env={}
    )
    assert flagged.params_for(persona, served()).context_window == 2000


def test_a_conversation_longer_than_ollamas_context_is_warned_about(
    ollama: FakeOpenAIServer,
) -> None:
    # Not loaded and no num_ctx: Ollama will serve it with its default context.
    ollama.enqueue(Reply(text="short"), Reply(text="long"))
    ports = f"ollama={ollama.port}"

    status, _, err = run("a short question", CHATBOT_DISCOVER_PORTS=ports)
    assert status == 0
    assert "Ollama serves" not in err

    status, out, err = run("word " * 6000, CHATBOT_DISCOVER_PORTS=ports)

    assert status == 0
    assert out.strip() == "long"
    warning = err.splitlines()[-1]
    assert warning.startswith(
        "chatbot: Ollama serves llama3.2:latest with a 4,096-token context (probably: its "
        "default); the model supports 131,072, and this conversation needs about 6,"
    )
    assert warning.endswith(
        ": Ollama silently drops its start. Start Ollama with OLLAMA_CONTEXT_LENGTH=8192, "
        "or trim here with --context-window 4096."
    )


def test_when_ollamas_real_context_is_known_nothing_is_sent_past_it(
    ollama: FakeOpenAIServer,
) -> None:
    ollama.ollama = {"llama3.2:latest": OllamaModel(context_length=131_072, loaded_context=4096)}

    status, _, err = run("word " * 6000, CHATBOT_DISCOVER_PORTS=f"ollama={ollama.port}")

    assert status == 2
    assert "4,096" in err.splitlines()[-1]
    assert not [r for r in ollama.requests if r.path == "/v1/chat/completions"]


def test_switching_models_on_ollama_takes_the_new_models_context(
    ollama: FakeOpenAIServer, pipe: PipeInput, tmp_path: Path
) -> None:
    from chatbot.api.client import ChatClient
    from chatbot.conversation.session import ChatSession
    from chatbot.servers.ollama import OllamaServer
    from tests.support.repl_harness import Harness

    ollama.ollama = {
        "llama3.2:latest": OllamaModel(context_length=131_072),
        "qwen2.5:0.5b": OllamaModel(context_length=32_768),
    }
    client = ChatClient(api_key="not-needed", base_url=ollama.base_url, timeout=5, max_retries=0)
    server = OllamaServer(client)
    config = resolve_config(
        flags=ConfigFlags(base_url=ollama.base_url, model="llama3.2:latest"), env={}
    )
    session = ChatSession(
        config=config,
        persona=load_personas().get("default"),
        backend=server.backend(notify=lambda _: None),
        served=server,
    )
    harness = Harness(session, pipe, tmp_path / "history", server=server)

    assert harness.run("/model qwen2.5:0.5b\r/exit\r") == 0

    assert "model: qwen2.5:0.5b" in harness.output
    assert "context: 32,768 tokens (from Ollama)" in harness.output
    assert session.params.context_window == 32_768
