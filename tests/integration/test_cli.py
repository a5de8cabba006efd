"""Acceptance tests: the installed ``chatbot`` command, run through pipes as a user would.

Every test starts the real console script in a subprocess against the local fake
OpenAI-compatible server, with the isolated config and data folders that
``conftest.py`` sets up, and judges only what a user sees: stdout, stderr, the exit
status, files on disk, and what reached the server.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatbot import __version__
from chatbot.settings.personas import load_personas
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import (
    RUN_TIMEOUT,
    TEST_KEY,
    assert_one_line_error,
    chatbot_executable,
    chatbot_id_for_title,
    chatbot_ids_for_title,
    copy_store,
    run_chatbot,
    scrubbed_environment,
)


def user_texts(body: Mapping[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- one-shot output and input ------------------------------------------------------


def test_one_shot_to_a_pipe_prints_raw_unwrapped_text(server: FakeOpenAIServer) -> None:
    long_line = " ".join(f"word{i:03d}" for i in range(38))[:300]
    assert len(long_line) == 300
    markdown = f"# Heading\n\nSome **bold** and `code`.\n\n{long_line}\n\nThe end."
    # A hostile reply tries to set the clipboard (OSC 52) and clear the screen.
    server.enqueue(Reply(text=markdown + "\x1b]52;c;ZXZpbA==\x07\x1b[2J"))

    result = run_chatbot("What is DNS?", server=server)

    assert result.returncode == 0, result
    assert result.stderr == ""
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    lines = result.stdout.splitlines()
    assert long_line in lines, "a 300-character line must reach the pipe unwrapped"
    # Raw text, not rendered Markdown: the markers are still there.
    assert "# Heading" in lines and "Some **bold** and `code`." in lines
    assert result.stdout.startswith(markdown)
    assert user_texts(server.chat_requests[0].body) == ["What is DNS?"]


def test_piped_stdin_is_the_question(server: FakeOpenAIServer) -> None:
    result = run_chatbot(server=server, stdin="why is the sky blue?\n")

    assert result.returncode == 0, result
    assert user_texts(server.chat_requests[0].body) == ["why is the sky blue?"]
    assert result.stdout == "You said: why is the sky blue?\n"


def test_piped_text_and_the_argument_are_sent_as_one_message(server: FakeOpenAIServer) -> None:
    notes = "meeting notes\n- ship on Friday\n- fix the printer\n"

    result = run_chatbot("summarise these notes", server=server, stdin=notes)

    assert result.returncode == 0, result
    assert len(server.chat_requests) == 1
    [question] = user_texts(server.chat_requests[0].body)
    assert notes.strip() in question and "summarise these notes" in question
    assert question.index("ship on Friday") < question.index("summarise these notes")


def test_persona_flag_sends_that_personas_system_prompt(server: FakeOpenAIServer) -> None:
    book = load_personas()
    assert book.get("it-support").system != book.get("default").system

    result = run_chatbot("--persona", "it-support", "my wifi is down", server=server)

    assert result.returncode == 0, result
    first = server.chat_requests[0].body["messages"][0]
    assert first == {"role": "system", "content": book.get("it-support").system}


def test_list_personas_shows_every_persona_one_per_line() -> None:
    result = run_chatbot("--list-personas")

    assert result.returncode == 0, result
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert names == load_personas().names()


def test_python_m_chatbot_prints_the_version() -> None:
    result = run_chatbot("--version", command=[sys.executable, "-m", "chatbot"])

    assert result.returncode == 0, result
    assert __version__ in result.stdout


def test_reader_closing_the_pipe_early_is_not_a_crash(server: FakeOpenAIServer) -> None:
    lines = "".join(f"line {n}\n" for n in range(4000))
    server.enqueue(Reply(text=lines, chunk_chars=64, delay=0.002))
    environment = dict(os.environ, OPENAI_BASE_URL=server.base_url, CHATBOT_LOCAL="0")
    with subprocess.Popen(
        [chatbot_executable(), "print many lines"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == b"line 0\n"
        process.stdout.close()  # what `head -1` does once it has its line
        stderr = process.stderr.read().decode()
        process.wait(timeout=RUN_TIMEOUT)

    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) <= 1, stderr


# -- configuration ------------------------------------------------------------------


def test_unknown_persona_is_one_line_listing_the_available_names(
    server: FakeOpenAIServer,
) -> None:
    result = run_chatbot("--persona", "pirate", "ahoy", server=server)

    line = assert_one_line_error(result, status=2)
    assert "pirate" in line
    for name in load_personas().names():
        assert name in line
    assert server.chat_requests == []


def test_nothing_configured_explains_how_to_set_up() -> None:
    # CHATBOT_LOCAL=0 (set by run_chatbot): the embedded model must not stand in.
    result = run_chatbot("hello")

    line = assert_one_line_error(result, status=2)
    assert "OPENAI_API_KEY" in line and "OPENAI_BASE_URL" in line
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[personas.pirate]\nsystem = "Arr"\ndescription = \n', "line 3"),
        ('[personas.pirate]\nsystem = "Arr"\ncolour = "red"\n', "colour"),
        ('[personas.pirate]\nsystem = "Arr"\ntemperature = 7\n', "temperature"),
        ('[personas.pirate]\ndescription = "no prompt"\n', "system"),
    ],
    ids=["syntax-error", "unknown-key", "temperature-out-of-range", "missing-system"],
)
def test_bad_personas_file_is_one_line_naming_the_file(
    tmp_path: Path, server: FakeOpenAIServer, content: str, expected: str
) -> None:
    personas = tmp_path / "my-personas.toml"
    personas.write_text(content, encoding="utf-8")

    result = run_chatbot("--personas", str(personas), "hello", server=server)

    line = assert_one_line_error(result, status=2)
    assert "my-personas.toml" in line and expected in line
    assert server.chat_requests == []


def test_settings_come_from_flags_then_environment_then_dotenv(server: FakeOpenAIServer) -> None:
    dotenv = Path.cwd() / ".env"
    dotenv.write_text(
        f"OPENAI_BASE_URL={server.base_url}\n"
        "CHATBOT_MODEL=dotenv-model\n"
        "CHATBOT_TOP_P=0.5\n"
        "CHATBOT_TEMPERATURE=0.3\n",
        encoding="utf-8",
    )
    dotenv.chmod(0o644)

    result = run_chatbot(
        "--model",
        "flag-model",
        "hello from dotenv",
        extra_env={"CHATBOT_MODEL": "env-model", "CHATBOT_TOP_P": "0.9"},
    )

    assert result.returncode == 0, result
    body = server.chat_requests[0].body  # the server came from .env
    assert user_texts(body) == ["hello from dotenv"]
    assert body["model"] == "flag-model"  # flag over environment over .env
    assert body["top_p"] == 0.9  # environment over .env
    assert body["temperature"] == 0.3  # .env when nothing above sets it
    # Other users can read this .env: the user is told how to fix it.
    assert ".env" in result.stderr and "chmod 600" in result.stderr


# -- failures -----------------------------------------------------------------------


def test_connection_refused_is_one_line_naming_the_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"

    result = run_chatbot("--retries", "0", "--base-url", url, "hello")

    line = assert_one_line_error(result, status=1)
    assert url in line
    assert result.stdout == ""


def test_rejected_key_exits_1_and_the_key_never_appears(server: FakeOpenAIServer) -> None:
    echoed = {
        "error": {
            "message": f"Incorrect API key provided: {TEST_KEY}. Find your key in your account.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    server.enqueue(Reply(status=401, error_body=echoed))

    result = run_chatbot(
        "--retries", "0", "hello", server=server, extra_env={"OPENAI_API_KEY": TEST_KEY}
    )

    line = assert_one_line_error(result, status=1)
    assert "401" in line or "key" in line.lower()
    assert TEST_KEY not in result.stdout + result.stderr
    assert "SECRETKEY" not in result.stdout + result.stderr
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {TEST_KEY}"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(status=500), "500"),
        (Reply(status=429, headers={"retry-after": "7"}), "rate"),
    ],
    ids=["server-error", "rate-limited"],
)
def test_server_failures_exit_1_with_one_line(
    server: FakeOpenAIServer, reply: Reply, expected: str
) -> None:
    server.enqueue(reply)

    result = run_chatbot("--retries", "0", "hello", server=server)

    line = assert_one_line_error(result, status=1)
    assert expected in line.lower()
    assert result.stdout == ""


def test_a_server_that_never_answers_times_out(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(hang=True))
    started = time.monotonic()

    result = run_chatbot("--retries", "0", "--timeout", "1", "hello", server=server)

    assert time.monotonic() - started < 15
    line = assert_one_line_error(result, status=1)
    assert server.base_url in line


def test_a_reply_cut_by_max_tokens_is_printed_and_reported_on_stderr(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue(Reply(text="The first half of", finish_reason="length"))

    result = run_chatbot("--max-tokens", "5", "tell me everything", server=server)

    assert result.returncode == 0, result
    assert result.stdout == "The first half of\n"
    assert "max_tokens" in result.stderr
    assert server.chat_requests[0].body["max_tokens"] == 5


# -- the conversation store from the shell ------------------------------------------

DNS_QUESTION = "How do I flush the DNS cache on Windows?"
PRINTER_QUESTION = "Which driver does a LaserJet 1020 printer need?"
#: The printer conversation was held with the it-support persona and this model.
PRINTER_MODEL = "helpdesk-model"


@dataclass(frozen=True, kw_only=True)
class SeededStore:
    """A store holding two one-shot conversations, made once for this module."""

    path: Path
    server: FakeOpenAIServer
    dns_id: int
    printer_id: int

    def copy_to(self, folder: Path) -> Path:
        """A private copy for one test to change (WAL side files included)."""
        return copy_store(self.path, folder)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededStore]:
    root = tmp_path_factory.mktemp("seeded")
    path = root / "conversations.sqlite3"
    env = scrubbed_environment(root / "home") | {"CHATBOT_DB": str(path)}
    with FakeOpenAIServer() as server:
        for args in (
            [DNS_QUESTION],
            ["--persona", "it-support", "--model", PRINTER_MODEL, PRINTER_QUESTION],
        ):
            result = run_chatbot(*args, server=server, env=env, cwd=root)
            assert result.returncode == 0, result
        listing = run_chatbot("sessions", env=env, cwd=root)
        assert listing.returncode == 0, listing
        yield SeededStore(
            path=path,
            server=server,
            dns_id=chatbot_id_for_title(listing.stdout, DNS_QUESTION),
            printer_id=chatbot_id_for_title(listing.stdout, PRINTER_QUESTION),
        )


def store_env(path: Path) -> dict[str, str]:
    return {"CHATBOT_DB": str(path)}


def test_sessions_lists_both_conversations_titled_by_their_first_message(
    seeded: SeededStore, tmp_path: Path
) -> None:
    result = run_chatbot("sessions", extra_env=store_env(seeded.copy_to(tmp_path)))

    assert result.returncode == 0, result
    assert DNS_QUESTION in result.stdout and PRINTER_QUESTION in result.stdout
    assert seeded.dns_id != seeded.printer_id


def test_sessions_search_shows_only_matching_conversations(
    seeded: SeededStore, tmp_path: Path
) -> None:
    result = run_chatbot(
        "sessions", "--search", "laserjet", extra_env=store_env(seeded.copy_to(tmp_path))
    )

    assert result.returncode == 0, result
    assert PRINTER_QUESTION in result.stdout
    assert DNS_QUESTION not in result.stdout


def test_export_markdown_prints_a_transcript(seeded: SeededStore, tmp_path: Path) -> None:
    result = run_chatbot(
        "export",
        str(seeded.dns_id),
        "--format",
        "md",
        extra_env=store_env(seeded.copy_to(tmp_path)),
    )

    assert result.returncode == 0, result
    transcript = result.stdout
    question_at = transcript.index(DNS_QUESTION)
    assert transcript.index(f"You said: {DNS_QUESTION}") > question_at
    assert PRINTER_QUESTION not in transcript


def test_export_json_writes_a_private_file_that_imports_as_an_equal_conversation(
    seeded: SeededStore, tmp_path: Path
) -> None:
    env = store_env(seeded.copy_to(tmp_path))
    exported = tmp_path / "dns.json"

    result = run_chatbot(
        "export", str(seeded.dns_id), "--format", "json", "-o", str(exported), extra_env=env
    )

    assert result.returncode == 0, result
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    data = json.loads(exported.read_text(encoding="utf-8"))
    assert [(m["role"], m["content"]) for m in data["messages"]] == [
        ("user", DNS_QUESTION),
        ("assistant", f"You said: {DNS_QUESTION}"),
    ]

    imported = run_chatbot("import", str(exported), extra_env=env)
    assert imported.returncode == 0, imported
    listing = run_chatbot("sessions", extra_env=env).stdout
    [copy_id] = set(chatbot_ids_for_title(listing, DNS_QUESTION)) - {seeded.dns_id}

    original_md = run_chatbot("export", str(seeded.dns_id), extra_env=env)
    copy_md = run_chatbot("export", str(copy_id), extra_env=env)
    assert copy_md.returncode == 0, copy_md
    assert copy_md.stdout == original_md.stdout
    copy_json = json.loads(
        run_chatbot("export", str(copy_id), "--format", "json", extra_env=env).stdout
    )
    assert copy_json["messages"] == data["messages"]
    assert copy_json["system_prompt"] == data["system_prompt"]


def test_export_to_an_existing_file_leaves_it_private(seeded: SeededStore, tmp_path: Path) -> None:
    exported = tmp_path / "dns.json"
    exported.write_text("old", encoding="utf-8")
    exported.chmod(0o644)

    result = run_chatbot(
        "export",
        str(seeded.dns_id),
        "--format",
        "json",
        "-o",
        str(exported),
        extra_env=store_env(seeded.copy_to(tmp_path)),
    )

    assert result.returncode == 0, result
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600


def test_continue_resumes_the_last_conversation_with_its_persona_and_model(
    seeded: SeededStore, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    env = store_env(seeded.copy_to(tmp_path))

    result = run_chatbot("-c", "and on Linux?", server=server, extra_env=env)

    assert result.returncode == 0, result
    body = server.chat_requests[0].body
    assert body["model"] == PRINTER_MODEL
    messages = body["messages"]
    assert messages[0] == {"role": "system", "content": load_personas().get("it-support").system}
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", PRINTER_QUESTION),
        ("assistant", f"You said: {PRINTER_QUESTION}"),
        ("user", "and on Linux?"),
    ]
    listing = run_chatbot("sessions", extra_env=env).stdout
    assert chatbot_id_for_title(listing, PRINTER_QUESTION) == seeded.printer_id
    assert "and on Linux" not in listing, "a follow-up must not start a new conversation"


def test_session_id_continues_that_conversation(
    seeded: SeededStore, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    result = run_chatbot(
        "--session",
        str(seeded.dns_id),
        "and on macOS?",
        server=server,
        extra_env=store_env(seeded.copy_to(tmp_path)),
    )

    assert result.returncode == 0, result
    texts = [m["content"] for m in server.chat_requests[0].body["messages"]]
    assert texts[1:] == [DNS_QUESTION, f"You said: {DNS_QUESTION}", "and on macOS?"]


def test_no_store_keeps_no_conversation(
    seeded: SeededStore, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    env = store_env(seeded.copy_to(tmp_path))
    before = run_chatbot("sessions", extra_env=env).stdout

    result = run_chatbot("--no-store", "an unrecorded question", server=server, extra_env=env)

    assert result.returncode == 0, result
    assert result.stdout == "You said: an unrecorded question\n"
    assert run_chatbot("sessions", extra_env=env).stdout == before
    found = run_chatbot("sessions", "--search", "unrecorded", extra_env=env)
    assert "unrecorded" not in found.stdout


def test_db_flag_before_a_store_subcommand_lists_that_store(
    seeded: SeededStore, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    result = run_chatbot("--db", str(seeded.copy_to(tmp_path)), "sessions", server=server)

    assert server.chat_requests == []
    assert result.returncode == 0, result
    assert DNS_QUESTION in result.stdout and PRINTER_QUESTION in result.stdout


@pytest.mark.parametrize(
    "args",
    [["hello"], ["sessions"], ["-c", "hello"], ["export", "1"]],
    ids=["one-shot", "sessions", "continue", "export"],
)
def test_corrupt_store_is_refused_and_left_untouched(
    tmp_path: Path, server: FakeOpenAIServer, args: list[str]
) -> None:
    store = tmp_path / "broken.sqlite3"
    garbage = os.urandom(8192)
    store.write_bytes(garbage)

    result = run_chatbot(*args, server=server, extra_env=store_env(store))

    line = assert_one_line_error(result, status=2)
    assert str(store) in line
    assert store.read_bytes() == garbage
    assert server.chat_requests == []
