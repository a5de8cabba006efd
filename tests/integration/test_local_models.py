"""Choosing a pulled model: ``--local-model NAME`` and ``/model`` in a local chat.

The hub cache is laid out as huggingface_hub lays it out (``models--OWNER--NAME``
with ``blobs/`` and ``snapshots/COMMIT/``), so these tests need no download; the
real downloads are in test_pull.py. ``/model`` runs in a real REPL on a pipe with
the embedded server replaced by fake OpenAI servers, one per model file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pytest
from prompt_toolkit.input.base import PipeInput

from chatbot.api.client import ChatClient
from chatbot.conversation.session import ChatSession
from chatbot.errors import ConfigError
from chatbot.local.model_cache import LocalModel, hub_cache_dir, pulled_models, resolve_local_model
from chatbot.local.pull import choose_file
from chatbot.local.runtime import LocalRuntime
from chatbot.local.short_names import parse_model_spec
from chatbot.secrets import Redactor
from chatbot.servers.embedded import EmbeddedBackend, EmbeddedServer
from chatbot.settings.config import ConfigFlags, resolve_config
from chatbot.settings.personas import load_personas
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.repl_harness import Harness

QWEN_REPO = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
QWEN_FILE = "qwen2.5-0.5b-instruct-q4_k_m.gguf"


def lay_out(cache: Path, repo: str, filename: str, size: int = 1000) -> Path:
    """A finished download, as huggingface_hub leaves it."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    blob = folder / "blobs" / f"sha-{filename}"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(b"GGUF" + b"\0" * (size - 4))
    link = folder / "snapshots" / ("c" * 40) / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text("c" * 40)
    return link


@pytest.fixture
def cache() -> Path:
    return hub_cache_dir(os.environ)


def test_the_cache_is_where_huggingface_hub_puts_it(tmp_path: Path) -> None:
    assert hub_cache_dir({"HF_HUB_CACHE": str(tmp_path / "c")}) == tmp_path / "c"
    assert hub_cache_dir({"HF_HOME": str(tmp_path / "h")}) == tmp_path / "h" / "hub"
    home = {"HOME": str(tmp_path)}
    assert hub_cache_dir(home) == tmp_path / ".cache" / "huggingface" / "hub"


def test_pulled_models_are_found_by_every_name(cache: Path, tmp_path: Path) -> None:
    link = lay_out(cache, QWEN_REPO, QWEN_FILE, size=4321)
    other = lay_out(cache, "someone/Tiny-GGUF", "tiny.Q8_0.gguf")
    # An interrupted download: a blob with no snapshot link. Never listed.
    (cache / "models--someone--Tiny-GGUF" / "blobs" / "x.incomplete").write_bytes(b"GG")

    assert [(m.name, m.size) for m in pulled_models(cache)] == [
        ("qwen2.5-0.5b", 4321),
        ("someone/Tiny-GGUF/tiny.Q8_0.gguf", 1000),
    ]
    for name in ("qwen2.5-0.5b", "QWEN2.5-0.5B", f"{QWEN_REPO}:Q4_K_M", f"{QWEN_REPO}/{QWEN_FILE}"):
        assert resolve_local_model(name, cache_dir=cache).path == link
    assert resolve_local_model("someone/Tiny-GGUF:Q8_0", cache_dir=cache).path == other
    file = tmp_path / "mine.gguf"
    file.write_bytes(b"GGUF")
    assert resolve_local_model(str(file), cache_dir=cache) == LocalModel(
        name="mine", path=file, size=4
    )


def test_an_unknown_local_model_names_the_ones_there_are(cache: Path) -> None:
    lay_out(cache, QWEN_REPO, QWEN_FILE)

    with pytest.raises(ConfigError) as caught:
        resolve_local_model("qwen2.5-1.5b", cache_dir=cache)

    message = str(caught.value)
    assert message.startswith("no local model 'qwen2.5-1.5b'; local models: ")
    assert "qwen2.5-0.5b" in message
    assert message.endswith("Download one with: chatbot pull qwen2.5-1.5b")
    with pytest.raises(ConfigError, match="no model file at"):
        resolve_local_model("./missing.gguf", cache_dir=cache)


def test_model_specs_and_quant_choice() -> None:
    assert parse_model_spec("smollm2-1.7b").repo == "bartowski/SmolLM2-1.7B-Instruct-GGUF"
    spec = parse_model_spec("owner/repo:q4_k_m")
    assert (spec.repo, spec.quant, spec.filename) == ("owner/repo", "q4_k_m", None)
    spec = parse_model_spec("owner/repo/sub/model.gguf")
    assert (spec.repo, spec.filename) == ("owner/repo", "sub/model.gguf")
    files = ["m-Q4_K_S.gguf", "m-Q4_K_M.gguf", "m-Q4_K_M-00001-of-00002.gguf", "README.md"]
    assert choose_file(files, repo="o/r", quant="Q4_K_M") == "m-Q4_K_M.gguf"
    assert choose_file(files, repo="o/r", quant="q4_k_s") == "m-Q4_K_S.gguf"


class FakeLocalServer:
    """Stands in for LocalServer: each model file is served by its own fake OpenAI server."""

    servers: ClassVar[dict[Path, FakeOpenAIServer]] = {}
    stopped: ClassVar[list[Path]] = []

    def __init__(self, *, model_path: Path, alias: str, **_: Any) -> None:
        self.model_path = model_path
        self.alias = alias

    def start_in_background(self) -> None:
        pass

    def wait_ready(self) -> None:
        pass

    @property
    def base_url(self) -> str:
        return self.servers[self.model_path].base_url

    def stop(self) -> None:
        self.stopped.append(self.model_path)


def test_slash_model_switches_local_models_restarting_the_server(
    cache: Path, pipe: PipeInput, tmp_path: Path
) -> None:
    first = LocalModel(name="first", path=tmp_path / "first.gguf", size=10)
    second_link = lay_out(cache, QWEN_REPO, QWEN_FILE, size=2_000_000)
    with FakeOpenAIServer() as one, FakeOpenAIServer() as two:
        FakeLocalServer.servers = {first.path: one, second_link: two}
        FakeLocalServer.stopped = []
        one.enqueue(Reply(text="from the first"))
        two.enqueue(Reply(text="from the second"))
        runtime = LocalRuntime(log_path=None, cache_dir=cache, server_factory=FakeLocalServer)
        runtime.start(first)
        local = EmbeddedServer(
            runtime,
            backend=EmbeddedBackend(
                runtime,
                client_for=lambda url: ChatClient(
                    api_key="not-needed", base_url=url, timeout=5, max_retries=0
                ),
                log=None,
                redact=Redactor([]),
            ),
        )
        config = resolve_config(flags=ConfigFlags(local=True, model="first"), env={})
        session = ChatSession(
            config=config,
            persona=load_personas().get("default"),
            backend=local.backend(notify=print),
            served=local,
        )
        harness = Harness(session, pipe, tmp_path / "history", server=local)

        status = harness.run("hello\r/model\r/model qwen2.5-0.5b\rhello again\r/exit\r")

    assert status == 0
    output = harness.output
    assert "qwen2.5-0.5b     2.0 MB" in output
    assert "restarting the local server with qwen2.5-0.5b" in output
    assert "model: qwen2.5-0.5b (local, 4,096-token context)" in output
    assert FakeLocalServer.stopped[0] == first.path
    (asked_first,) = [r for r in one.requests if r.path == "/v1/chat/completions"]
    (asked_second,) = [r for r in two.requests if r.path == "/v1/chat/completions"]
    assert asked_first.body["model"] == "first"
    assert asked_second.body["model"] == "qwen2.5-0.5b"
    assert session.params.context_window == 4096
