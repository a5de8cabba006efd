"""Embeddings from the server (opt-in), end to end: the shape is checked before it is
trusted, the base remembers its model, and questions are embedded before the request."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import assert_one_line_error, run_chatbot


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "vpn.md").write_text("# VPN\n\nThe VPN client needs UDP port 1194 open.\n")
    (folder / "mail.md").write_text("# Mail\n\nMailbox quota is two gigabytes per person.\n")
    return folder


def test_passages_embedded_by_the_server_join_the_search(
    server: FakeOpenAIServer, docs: Path
) -> None:
    server.embeddings = "vectors"
    added = run_chatbot(
        "knowledge", "add", "it", str(docs), "--embed", "embed-small", server=server
    )
    assert added.returncode == 0, added
    assert "it: embedded 2 passages with server/embed-small" in added.stdout
    listing = run_chatbot("knowledge", "list").stdout
    assert "server/embed-small (2/2)" in listing

    server.enqueue(Reply(text="Open 1194."))
    asked = run_chatbot("--knowledge", "it", "which port for the vpn client?", server=server)
    assert "source [1] it: handbook/vpn.md" in asked.stderr
    paths = [r.path for r in server.requests if r.method == "POST"]
    # The question is embedded first, and the chat request comes after, never during.
    assert paths[-2:] == ["/v1/embeddings", "/v1/chat/completions"]
    embedded = [r for r in server.requests if r.path == "/v1/embeddings"][-1].body
    assert embedded["model"] == "embed-small"
    assert embedded["input"] == ["which port for the vpn client?"]

    # A new file is embedded with the model the base recorded; another model is refused.
    (docs / "print.md").write_text("# Printing\n\nRestart CUPS.\n")
    again = run_chatbot("knowledge", "update", "it", server=server)
    assert "embedded 1 passages with server/embed-small" in again.stdout
    other = run_chatbot("knowledge", "update", "it", "--embed", "other-model", server=server)
    assert "mixing models" in assert_one_line_error(other, status=2)
    dropped = run_chatbot("knowledge", "update", "it", "--embed", "none", server=server)
    assert "dropped 3 vectors" in dropped.stdout


def test_a_server_that_returns_a_vector_per_token_is_refused(
    server: FakeOpenAIServer, docs: Path
) -> None:
    server.embeddings = "per-token"
    added = run_chatbot("knowledge", "add", "it", str(docs), "--embed", "smollm", server=server)
    line = assert_one_line_error(added, status=1)
    assert "one per token" in line and "cannot embed passages" in line
    # The keyword index was built all the same; only the vectors are missing.
    assert run_chatbot("knowledge", "list").stdout.splitlines()[1].split()[-1] == "-"


def test_auto_finds_the_embedding_model_by_name_never_the_chat_model(
    server: FakeOpenAIServer, docs: Path
) -> None:
    server.embeddings = "vectors"
    none = run_chatbot("knowledge", "add", "it", str(docs), "--embed", "auto", server=server)
    assert "lists no embedding model (2 models)" in assert_one_line_error(none, status=2)
    server.models.append("nomic-embed-text")
    found = run_chatbot("knowledge", "add", "it", str(docs), "--embed", "auto", server=server)
    assert "embedded 2 passages with server/nomic-embed-text" in found.stdout


def test_a_server_without_embeddings_is_one_line(server: FakeOpenAIServer, docs: Path) -> None:
    added = run_chatbot("knowledge", "add", "it", str(docs), "--embed", "nope", server=server)
    assert "has no embeddings for 'nope'" in assert_one_line_error(added, status=1)


def test_when_the_server_cannot_embed_the_question_keyword_search_goes_on(
    server: FakeOpenAIServer, docs: Path
) -> None:
    server.embeddings = "vectors"
    run_chatbot("knowledge", "add", "it", str(docs), "--embed", "embed-small", server=server)
    server.embeddings = None
    server.enqueue(Reply(text="ok"))
    asked = run_chatbot("--knowledge", "it", "mailbox quota", server=server)
    assert asked.returncode == 0
    assert "keyword search only" in asked.stderr
    assert "source [1] it: handbook/mail.md" in asked.stderr
