"""Nothing a server, a persona file or a piped file says can drive the user's terminal,
and the API key never reaches an output or a file.

A hostile server sends CSI (colour, clear screen, cursor moves), OSC 52 (clipboard),
OSC 8 (hidden links), title changes, BEL, DCS and 8-bit C1 controls, split across
chunks, through both the Markdown and the raw path, in replies, error bodies and model
lists. rich styles its own output with SGR codes and, on a terminal, moves the cursor
to redraw the live tail; those are allowed, anything else is not.
"""

from __future__ import annotations

import io
import os
import re
import stat
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chatbot.settings.personas import load_personas
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.faultkit import (
    KEY,
    TRACEBACK,
    FakeTime,
    OneShot,
    endpoint,
    environment,
    paste,
    patch_countdown,
    repl_harness,
    run_one_shot,
)

# (what a hostile server sends, what the user may see of it)
ATTACKS = [
    ("\x1b[31;5mred blink\x1b[0m", "red blink"),
    ("\x1b[8mhidden\x1b[28m", "hidden"),
    ("\x1b[2J\x1b[3J", ""),
    ("\x1b[H\x1b[10A\x1b[5;7H", ""),
    ("\x1b]52;c;ZWNobyBwd25lZA==\x07", ""),
    ("\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\", "click me"),
    ("\x1b]0;pwned-title\x07", ""),
    ("\x1b]2;pwned-title\x1b\\", ""),
    ("ding\x07", "ding"),
    ("\x9b2J", ""),
    ("\x9d0;c1-title\x9c", ""),
    ("\x1bP+q544e\x1b\\", ""),
]

#: Byte sequences from the attacks that must never reach the output.
FORBIDDEN = (
    "\x1b]",  # any OSC: clipboard, hyperlink, title (rich itself sends none here)
    "\x1bP",  # DCS
    "\x07",
    "\x9b",
    "\x9c",
    "\x9d",
    "\x1b[2J",
    "\x1b[3J",
    "\x1b[H",
    "\x1b[10A",
    "\x1b[5;7H",
    "\x1b[31;5m",
    "\x1b[8m",
    "pwned-title",
    "c1-title",
    "ZWNobyBwd25lZA==",
)

#: What rich writes itself: SGR styling, and the live tail's cursor-up, erase-line and
#: cursor hide/show.
RICH_OWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[1A|\x1b\[2K|\x1b\[\?25[lh]")
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@pytest.fixture
def fake_countdown(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    return patch_countdown(monkeypatch)


def assert_terminal_safe(output: str) -> None:
    """No hostile sequence, and no control character rich did not write itself."""
    for sequence in FORBIDDEN:
        assert sequence not in output, f"{sequence!r} reached the terminal"
    leftover = RICH_OWN.sub("", output)
    assert CONTROLS.findall(leftover) == []
    assert TRACEBACK not in output


def hostile(template: str) -> str:
    """``template`` with each ``{n}`` replaced by attack n."""
    return template.format(*(attack for attack, _ in ATTACKS))


def visible(template: str) -> str:
    """``template`` as a user should see it: attacks reduced to their text."""
    return template.format(*(seen for _, seen in ATTACKS))


MARKDOWN = """# Heading {0}

A paragraph {1} with `inline {2}` and [a link {3}](https://ok.example/docs).

- item {4}
- item {5}

| column {6} | plain |
| --- | --- |
| cell {7} | x |

```sh
echo {8} {9}
```

> quoted {10} {11} end
"""

PLAIN = "Plain {0} {1} {2} {3} {4} {5} {6} {7} {8} {9} {10} {11} end\n"

ERROR_TEXT = "bad request {0}{4}{5}{6}{9}{10} please retry"


# --- replies ------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_markdown_replies_cannot_drive_the_terminal(chunk: int, tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path, markdown=True, terminal=True) as repl,
    ):
        assert target.server is not None
        target.server.enqueue(Reply(text=hostile(MARKDOWN), chunk_chars=chunk))
        step = repl.step("tell me\r")
        assert_terminal_safe(step.everything)
        shown = RICH_OWN.sub("", step.everything)
        for words in ("Heading", "red blink", "hidden", "click me", "ding", "quoted", "end"):
            assert words in shown
        assert "evil.example" not in shown  # the hidden link's target went with it
        assert "\x1b[" in step.everything  # it really was rendered for a colour terminal


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_raw_replies_cannot_drive_the_terminal(chunk: int, tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path, terminal=True) as repl,
    ):
        assert target.server is not None
        target.server.enqueue(Reply(text=hostile(PLAIN), chunk_chars=chunk))
        step = repl.step("tell me\r")
        assert_terminal_safe(step.everything)
        assert repl.reply_out.getvalue() == visible(PLAIN)


@pytest.mark.parametrize("mode", ["--raw", "--markdown"])
def test_one_shot_replies_cannot_drive_the_terminal(mode: str, tmp_path: Path) -> None:
    with endpoint("server") as target:
        assert target.server is not None
        target.server.enqueue(Reply(text=hostile(MARKDOWN), chunk_chars=2))
        stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        result = run_one_shot(
            [mode, "tell me"],
            environ=environment(tmp_path, base_url=target.base_url),
            stdout=stdout,
        )
        assert result.code == 0
        assert_terminal_safe(result.stdout + result.stderr)
        assert "click me" in result.stdout
        assert "evil.example" not in result.stdout


# --- server errors and model lists --------------------------------------------------

ERROR_REPLIES = [
    pytest.param(
        Reply(status=401, error_body={"error": {"message": hostile(ERROR_TEXT)}}), id="http-401"
    ),
    pytest.param(
        Reply(status=500, error_body={"error": {"message": hostile(ERROR_TEXT)}}), id="http-500"
    ),
    pytest.param(
        Reply(status=429, error_body={"error": {"message": hostile(ERROR_TEXT)}}), id="http-429"
    ),
    pytest.param(
        Reply(text="partial", sse_error={"message": hostile(ERROR_TEXT)}), id="sse-error-event"
    ),
]


def _serve_always(server: FakeOpenAIServer, reply: Reply) -> None:
    """Answer every request with ``reply``, retries included."""
    server.default_reply = reply


def _ask_a_failing_server(reply: Reply, *flags: str, home: Path) -> OneShot:
    """``chatbot --raw FLAGS hello`` against a server that answers everything with ``reply``."""
    with endpoint("server") as target:
        assert target.server is not None
        _serve_always(target.server, reply)
        return run_one_shot(
            ["--raw", *flags, "hello"], environ=environment(home, base_url=target.base_url)
        )


@pytest.mark.parametrize("reply", ERROR_REPLIES)
def test_repl_error_lines_cannot_drive_the_terminal(reply: Reply, tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path, terminal=True) as repl,
    ):
        assert target.server is not None
        _serve_always(target.server, reply)
        step = repl.step("hello\r")
        assert_terminal_safe(step.everything)
        error = [line for line in step.notices if "error:" in line]
        assert len(error) == 1
        # On a terminal a long line is folded between words (issue 23): read it whole.
        unstyled = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in step.notices]
        assert "please retry" in " ".join(line.strip() for line in unstyled)


@pytest.mark.parametrize("reply", ERROR_REPLIES)
def test_one_shot_error_lines_cannot_drive_the_terminal(
    reply: Reply, tmp_path: Path, fake_countdown: FakeTime
) -> None:
    result = _ask_a_failing_server(reply, home=tmp_path)
    assert result.code == 1
    assert_terminal_safe(result.stdout + result.stderr)
    (line,) = result.said
    assert "please retry" in line


HOSTILE_MODELS = (
    "fake-model",
    "evil\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "x\x1b[2Jy",
    "t\x9d0;c1-title\x9c",
)


def test_model_lists_from_the_server_cannot_drive_the_terminal(tmp_path: Path) -> None:
    with FakeOpenAIServer(models=HOSTILE_MODELS) as server:
        server.enqueue(Reply(status=404))
        with repl_harness(
            base_url=server.base_url, home=tmp_path, terminal=True, flags={"model": "nope"}
        ) as repl:
            step = repl.step("hello\r/model\r")
            assert_terminal_safe(step.everything)
            assert "available: " in step.everything
            assert "fake-model" in step.everything


# --- persona text -------------------------------------------------------------------

EVIL_PERSONAS = r'''
[personas.evil]
description = "Looks harmless"
system = """You are evil \u001b]52;c;ZWNobyBwd25lZA==\u0007 \u001b[2J \
\u009b2J \u001b]0;pwned-title\u0007 done"""
greeting = "Hello there"
'''


def test_persona_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "evil.toml"
    path.write_text(EVIL_PERSONAS, encoding="utf-8")
    book = load_personas(extra_files=[path])
    with (
        endpoint("server") as target,
        repl_harness(
            base_url=target.base_url, home=tmp_path / "home", terminal=True, personas=book
        ) as repl,
    ):
        step = repl.step("/persona evil\r/system\r/persona\r/help\r")
        assert_terminal_safe(step.everything)
        assert "You are evil" in step.everything and "done" in step.everything
        assert "Looks harmless" in step.everything


@pytest.mark.parametrize(
    "toml",
    [
        pytest.param(
            '[personas.evil]\nsystem = "s"\ndescription = "nice \\u001b]0;pwned-title\\u0007"\n',
            id="description",
        ),
        pytest.param(
            '[personas.evil]\nsystem = "s"\ngreeting = "hi \\u001b]52;c;ZWNobyBwd25lZA==\\u0007"\n',
            id="greeting",
        ),
        pytest.param('[personas."\\u001b[2J\\u009b2J"]\nsystem = "s"\n', id="name"),
        pytest.param(
            '[personas.evil]\nsystem = "s"\nmodel = "m\\u001b]8;;https://evil.example/\\u0007"\n',
            id="model",
        ),
    ],
)
def test_hostile_persona_files_are_one_clean_line(toml: str, tmp_path: Path) -> None:
    path = tmp_path / "evil.toml"
    path.write_text(toml, encoding="utf-8")
    result = run_one_shot(
        ["--personas", str(path), "--list-personas"],
        environ=environment(tmp_path, base_url="http://127.0.0.1:9/v1"),
    )
    assert result.code == 2
    assert_terminal_safe(result.stdout + result.stderr)
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"chatbot: {path}: ")


# --- piped files --------------------------------------------------------------------


def test_a_hostile_file_on_stdin_cannot_drive_the_terminal(tmp_path: Path) -> None:
    text = hostile(MARKDOWN)
    with endpoint("server") as target:
        assert target.server is not None
        stdin = io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8")
        result = run_one_shot(
            ["--raw", "summarise this"],
            environ=environment(tmp_path, base_url=target.base_url),
            stdin=stdin,
        )
        assert result.code == 0
        assert_terminal_safe(result.stdout + result.stderr)
        # The file is the user's to send: it reaches the model unchanged.
        sent = target.server.chat_requests[-1].body["messages"][-1]["content"]
        assert sent == text.strip("\n") + "\n\nsummarise this"


# --- stored text shown again --------------------------------------------------------

HOSTILE_TITLE = "\x1b]52;c;ZWNobyBwd25lZA==\x07[link=https://evil.example/]notes[/link] \x1b[2J log"


def test_conversation_titles_cannot_drive_the_terminal(tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path, terminal=True) as repl,
    ):
        repl.step(paste(HOSTILE_TITLE))
        step = repl.step("/sessions\r")
        assert_terminal_safe(step.everything)


def test_loading_a_conversation_with_a_hostile_title_is_inert(tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path, terminal=True) as repl,
    ):
        repl.step(paste("see [link=https://evil.example/]the docs[/link]"))
        conversation = repl.journal.conversation_id
        step = repl.step(f"/clear\r/load {conversation}\r")
        assert_terminal_safe(step.everything)


def test_loading_a_conversation_with_hostile_replies_is_inert(tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path, terminal=True) as repl,
    ):
        assert target.server is not None
        target.server.enqueue(Reply(text=hostile(MARKDOWN)))
        repl.step("hello\r")
        conversation = repl.journal.conversation_id
        step = repl.step(f"/clear\r/load {conversation}\r")
        assert_terminal_safe(step.everything)
        assert "red blink" in RICH_OWN.sub("", step.everything)


# --- the API key --------------------------------------------------------------------

#: The secret part of the key; a leak of it alone is a leak.
KEY_BODY = KEY.removeprefix("sk-proj-")

ECHOING = [
    pytest.param(
        Reply(
            status=401,
            error_body={"error": {"message": f"Incorrect API key provided: {KEY}.", "code": None}},
        ),
        id="http-401",
    ),
    pytest.param(
        Reply(status=500, error_body={"error": {"message": f"upstream saw Bearer {KEY}"}}),
        id="http-500-retried",
    ),
    pytest.param(
        Reply(status=429, error_body={"error": {"message": f"key {KEY} is over quota"}}),
        id="http-429-retried",
    ),
    pytest.param(Reply(status=400, error_body={"detail": f"bad key {KEY}"}), id="http-400-odd"),
    pytest.param(
        Reply(text="partial", sse_error={"message": f"auth {KEY} expired"}), id="sse-error-event"
    ),
]


def assert_no_key(*outputs: str | bytes) -> None:
    for output in outputs:
        data = output.encode("utf-8", "surrogatepass") if isinstance(output, str) else output
        assert KEY_BODY.encode() not in data


@pytest.mark.parametrize("reply", ECHOING)
def test_the_key_never_shows_in_repl_errors(reply: Reply, tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path) as repl,
    ):
        assert target.server is not None
        _serve_always(target.server, reply)
        step = repl.step("hello\r/retry\r")
        assert [line for line in step.notices if line.startswith("error:")]
        assert_no_key(step.everything, *_files(tmp_path))


@pytest.mark.parametrize("reply", ECHOING)
def test_the_key_never_shows_in_one_shot_errors(
    reply: Reply, tmp_path: Path, fake_countdown: FakeTime
) -> None:
    result = _ask_a_failing_server(reply, "--debug", home=tmp_path)
    assert result.code == 1
    assert len(result.said) == 2  # where the debug log is, and the error
    assert_no_key(result.stdout, result.stderr, *_files(tmp_path))


def _files(root: Path) -> Iterator[bytes]:
    """The bytes of every file under ``root``: store, its WAL, history, logs, exports."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path.read_bytes()


class TtyStdin(io.StringIO):
    """An empty stdin that says it is a terminal, so the app starts a chat."""

    def isatty(self) -> bool:
        return True


def run_interactive(argv: Sequence[str], *, keys: str, environ: Mapping[str, str]) -> OneShot:
    """The whole app in chat mode, typing ``keys`` then Ctrl-D into its prompt."""
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        writer = threading.Thread(target=pipe.send_text, args=(keys + "\x04",))
        writer.start()
        try:
            return run_one_shot(argv, environ=environ, stdin=TtyStdin())
        finally:
            writer.join(timeout=30)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 0: file modes must come from the tool, not from a kind default."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_whole_session_keeps_the_key_out_of_every_file_and_makes_them_private(
    tmp_path: Path, fake_countdown: FakeTime, open_umask: None
) -> None:
    home = tmp_path / "home"
    exports = tmp_path / "exports"
    exports.mkdir()
    with endpoint("server") as target:
        assert target.server is not None
        target.server.enqueue(
            Reply(status=500, error_body={"error": {"message": f"saw {KEY}"}}),
            Reply(status=401, error_body={"error": {"message": f"Incorrect API key: {KEY}"}}),
        )
        keys = (
            "first question\r/retry\r/retry\r"
            f"/export md {exports / 'chat.md'}\r/export json {exports / 'chat.json'}\r"
        )
        result = run_interactive(
            ["--debug", "--retries", "1"],
            keys=keys,
            environ=environment(home, base_url=target.base_url),
        )
    assert result.code == 0
    assert "exported to" in result.stdout
    assert_no_key(result.stdout, result.stderr, *_files(tmp_path))
    data = home / "data"
    assert _mode(data) == 0o700
    private = [p for p in data.iterdir() if p.is_file()]
    assert {p.name for p in private} >= {"conversations.sqlite3", "input-history", "debug.log"}
    for path in [*private, exports / "chat.md", exports / "chat.json"]:
        assert _mode(path) == 0o600, path
    assert "first question" in (data / "input-history").read_text(encoding="utf-8")


def test_exporting_over_an_existing_file_makes_it_private(tmp_path: Path) -> None:
    target_file = tmp_path / "chat.md"
    target_file.write_text("old\n", encoding="utf-8")
    target_file.chmod(0o644)
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path / "home") as repl,
    ):
        step = repl.step(f"hello\r/export md {target_file}\r")
        assert f"exported to {target_file}" in step.notices
    assert _mode(target_file) == 0o600


def test_the_store_and_history_are_private_while_in_use(tmp_path: Path, open_umask: None) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path / "home") as repl,
    ):
        repl.step("hello\r")
        data = repl.store_path.parent
        names = {path.name for path in data.iterdir()}
        # WAL mode: the side files hold messages too while the store is open.
        assert names >= {"conversations.sqlite3", "conversations.sqlite3-wal", "input-history"}
        assert _mode(data) == 0o700
        for path in data.iterdir():
            assert _mode(path) == 0o600, path


def test_a_key_echoed_in_the_reply_text_is_not_kept(tmp_path: Path) -> None:
    with endpoint("server") as target:
        assert target.server is not None
        target.server.enqueue(Reply(text=f"Your key is {KEY}, keep it safe.", chunk_chars=5))
        environ = environment(tmp_path, base_url=target.base_url)
        result = run_one_shot(["--raw", "what is my key?"], environ=environ)
        assert result.code == 0
        assert "Your key is" in result.stdout
        assert_no_key(result.stdout, result.stderr, *_files(tmp_path))


def test_a_world_readable_env_file_is_warned_about_without_showing_the_key(
    tmp_path: Path,
) -> None:
    with endpoint("server") as target:
        environ = environment(tmp_path, base_url=target.base_url)
        del environ["OPENAI_API_KEY"]
        config = tmp_path / "config"
        config.mkdir()
        dotenv = config / ".env"
        dotenv.write_text(f"OPENAI_API_KEY={KEY}\n", encoding="utf-8")
        dotenv.chmod(0o644)
        result = run_one_shot(["--raw", "hello"], environ=environ)
        assert result.code == 0
        assert result.stderr.splitlines() == [
            f"warning: {dotenv} is readable by other users; run: chmod 600 {dotenv}"
        ]
        assert_no_key(result.stdout, result.stderr)
        assert target.server is not None
        assert target.server.chat_requests[-1].headers["authorization"] == f"Bearer {KEY}"
        assert result.stdout == "You said: hello\n"
