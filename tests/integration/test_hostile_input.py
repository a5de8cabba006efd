"""Odd and hostile input: huge pastes, NUL bytes, broken UTF-8, lone surrogates, control,
right-to-left and zero-width characters, very long input, blank input, and personas files
that are huge or nested without end.

Text the user means is sent unchanged; text that cannot be sent (NUL, lone surrogates,
undecodable bytes) is made sendable without losing the rest; anything that cannot be
handled at all is one clear line, with nothing sent and the chat still going.
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

from chatbot.render import make_renderer
from chatbot.repl.commands.builtins import builtin_commands
from chatbot.repl.loop import Repl
from chatbot.settings.personas import load_personas
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.faultkit import (
    TRACEBACK,
    Tap,
    assistant,
    echo,
    environment,
    paste,
    repl_harness,
    run_one_shot,
    stored_one_shot,
    user,
)
from tests.support.helpers import RUN_TIMEOUT, chatbot_executable


def sent_texts(server: FakeOpenAIServer) -> list[str]:
    """The newest user message of each chat request the server received."""
    return [r.body["messages"][-1]["content"] for r in server.chat_requests]


# --- size ---------------------------------------------------------------------------

#: About a megabyte of prose, well past the default model's 128k-token context.
MEGABYTE = (
    "The quick brown fox jumps over the lazy dog again and again and again. " * 15 + "\n"
) * 1000


def test_a_1mb_paste_is_refused_in_one_line_and_can_be_recalled(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    assert len(MEGABYTE) >= 1_000_000
    with repl_harness(base_url=server.base_url, home=tmp_path) as repl:
        step = repl.step(paste(MEGABYTE))
        line, hint = step.notices
        assert line.startswith("error: That message is about ")
        assert line.endswith("Nothing was sent.")
        assert hint.startswith("press Up to recall it")
        assert server.chat_requests == []
        assert repl.held == repl.stored == []
        assert repl.prompt.history.get_strings()[-1] == MEGABYTE
        # Up brings it back whole: sending it again is refused the same way.
        again = repl.step("\x1b[A\r")
        assert again.notices == step.notices
        assert server.chat_requests == []
        after = repl.step("short one\r")
        assert after.shown == [echo("short one")]


def test_a_1mb_pipe_is_refused_in_one_line_with_nothing_sent(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    result = run_one_shot(
        ["--raw"],
        environ=environment(tmp_path, base_url=server.base_url),
        stdin=io.TextIOWrapper(io.BytesIO(MEGABYTE.encode()), encoding="utf-8"),
    )
    assert result.code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("chatbot: That message is about ")
    assert server.chat_requests == []
    assert stored_one_shot(tmp_path) == []


TEN_THOUSAND_LINES = "\n".join(f"{n:05d} | log line with some detail" for n in range(10_000))


def test_a_10000_line_paste_is_one_message(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.enqueue(Reply(text="got it"))
    with repl_harness(base_url=server.base_url, home=tmp_path) as repl:
        step = repl.step(paste(TEN_THOUSAND_LINES))
        assert step.notices == []
        assert sent_texts(server) == [TEN_THOUSAND_LINES]
        assert (
            repl.held
            == repl.stored
            == [
                user(TEN_THOUSAND_LINES),
                assistant("got it"),
            ]
        )


def test_10000_piped_lines_are_one_message(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.enqueue(Reply(text="got it"))
    result = run_one_shot(
        ["--raw"],
        environ=environment(tmp_path, base_url=server.base_url),
        stdin=io.TextIOWrapper(io.BytesIO(TEN_THOUSAND_LINES.encode()), encoding="utf-8"),
    )
    assert result.code == 0
    assert sent_texts(server) == [TEN_THOUSAND_LINES]
    assert result.stdout == "got it\n"


# --- characters ---------------------------------------------------------------------

RTL_AND_INVISIBLE = "שלום עולם \u200fمرحبا\u200e \u202eevil.exe\u202c a\u200bb\u200dc\u2060d\ufeffe"
CONTROLS = "tab\there \x1b[31mred\x1b[0m bell\x07 del\x7f form\x0cfeed"


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        pytest.param("a\x00b\x00c", "abc", id="nul-bytes"),
        pytest.param(RTL_AND_INVISIBLE, RTL_AND_INVISIBLE, id="rtl-and-zero-width"),
        pytest.param(CONTROLS, CONTROLS, id="control-characters"),
    ],
)
def test_pasted_characters_are_sent_as_meant(
    typed: str, sent: str, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    with repl_harness(base_url=server.base_url, home=tmp_path, terminal=True) as repl:
        step = repl.step(paste(typed))
        assert step.notices == []
        assert sent_texts(server) == [sent]
        assert repl.held == repl.stored == [user(sent), assistant(echo(sent))]
        # The echo comes back through the renderer: no control sequence survives it.
        assert "\x1b[31m" not in step.everything and "\x07" not in step.everything
        assert TRACEBACK not in step.everything


@pytest.mark.parametrize(
    ("question", "sent"),
    [
        pytest.param("a\x00b", "ab", id="nul-bytes"),
        pytest.param(RTL_AND_INVISIBLE, RTL_AND_INVISIBLE, id="rtl-and-zero-width"),
        # What Python makes of an argument that is not UTF-8 (surrogateescape).
        pytest.param("caf\udce9 \ud800 ok", "caf\ufffd \ufffd ok", id="lone-surrogates"),
    ],
)
def test_one_shot_questions_are_sent_as_meant(
    question: str, sent: str, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    result = run_one_shot(
        ["--raw", question], environ=environment(tmp_path, base_url=server.base_url)
    )
    assert result.code == 0
    assert sent_texts(server) == [sent]
    assert stored_one_shot(tmp_path) == [user(sent), assistant(echo(sent))]


def test_invalid_utf8_on_stdin_is_replaced_not_fatal(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    raw = b"caf\xe9 na\xefve \xff\xfe end\x00\n"
    result = run_one_shot(
        ["--raw"],
        environ=environment(tmp_path, base_url=server.base_url),
        stdin=io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"),
    )
    assert result.code == 0
    assert sent_texts(server) == ["caf\ufffd na\ufffdve \ufffd\ufffd end"]


class ScriptedPrompt:
    """Stands in for the PromptSession: a pipe cannot carry lone surrogates, but a
    terminal decoded with surrogateescape can hand them to the prompt."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def prompt(self, message: str) -> str:
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)


def test_lone_surrogates_typed_in_the_repl_are_sent_and_stored(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    with repl_harness(base_url=server.base_url, home=tmp_path) as harness:
        book = load_personas()
        taps: list[Tap] = []

        def renderer() -> Tap:
            taps.append(Tap(make_renderer(console=harness.console, markdown=False)))
            return taps[-1]

        repl = Repl(
            session=harness.session,
            prompt=ScriptedPrompt(["broken \udcff paste \ud83d", "next"]),  # type: ignore[arg-type]
            console=harness.console,
            personas=book,
            commands=builtin_commands(personas=book, server=harness.server),
            renderer_factory=renderer,
        )
        assert repl.run() == 0
        cleaned = "broken \ufffd paste \ufffd"
        assert sent_texts(server) == [cleaned, "next"]
        assert (
            harness.held
            == harness.stored
            == [
                user(cleaned),
                assistant(echo(cleaned)),
                user("next"),
                assistant(echo("next")),
            ]
        )


SURROGATE_REPLY = "half an emoji \ud83d and a stray \udc00 here"
SURROGATE_SHOWN = "half an emoji \ufffd and a stray \ufffd here"


def test_a_reply_with_lone_surrogates_is_shown_and_kept_in_the_repl(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(Reply(text=SURROGATE_REPLY))
    with repl_harness(base_url=server.base_url, home=tmp_path) as repl:
        step = repl.step("hi\r")
        assert step.notices == []
        assert repl.held == repl.stored == [user("hi"), assistant(SURROGATE_SHOWN)]


def test_a_reply_with_lone_surrogates_is_printed_in_one_shot(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.enqueue(Reply(text=SURROGATE_REPLY))
    result = run_one_shot(
        ["--raw", "hi"],
        environ=environment(tmp_path, base_url=server.base_url),
        stdout=io.TextIOWrapper(io.BytesIO(), encoding="utf-8"),
    )
    assert result.code == 0
    assert result.stdout == SURROGATE_SHOWN + "\n"


# --- blank input --------------------------------------------------------------------


def test_blank_input_in_any_form_sends_nothing(server: FakeOpenAIServer, tmp_path: Path) -> None:
    with repl_harness(base_url=server.base_url, home=tmp_path) as repl:
        step = repl.step("\r   \r\t\r" + paste("  \n\t\n  ") + "\x1b\r\x1b\r\r" + paste("\u3000"))
        assert step.notices == []
        assert server.chat_requests == []
        assert repl.held == repl.stored == []
        assert step.shown == []


@pytest.mark.parametrize(
    ("args", "piped"),
    [
        pytest.param([], "  \n\t\n", id="blank-pipe"),
        pytest.param(["   "], "", id="blank-argument"),
        pytest.param([" ", "\t"], "\n\n", id="blank-both"),
    ],
)
def test_blank_one_shot_questions_send_nothing(
    args: list[str], piped: str, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    result = run_one_shot(
        ["--raw", *args],
        environ=environment(tmp_path, base_url=server.base_url),
        stdin=io.StringIO(piped),
    )
    assert result.code == 2
    assert result.stderr.splitlines() == ["chatbot: nothing to ask: the question is empty"]
    assert server.chat_requests == []


# --- personas files -----------------------------------------------------------------


def _ten_megabytes() -> str:
    persona = '[personas.p{n}]\nsystem = "' + "x" * 1000 + '"\n'
    return "".join(persona.format(n=n) for n in range(10_300))


PERSONA_FILES = [
    pytest.param(_ten_megabytes, "personas file too large (", id="10mb"),
    pytest.param(
        lambda: "[personas.deep." + ".".join(["t"] * 5000) + "]\nsystem = 's'\n",
        "persona 'deep': unknown key 't'",
        id="deep-table-header",
    ),
    pytest.param(
        lambda: "[personas.deep]\nsystem = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n",
        "nested too deeply",
        id="deep-inline-tables",
    ),
    pytest.param(
        lambda: "[personas.deep]\nstop = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "nested too deeply",
        id="deep-arrays",
    ),
]


@pytest.mark.parametrize(("content", "says"), PERSONA_FILES)
@pytest.mark.parametrize("where", ["--personas", "user-file"])
def test_monstrous_personas_files_are_one_clean_line(
    content: object, says: str, where: str, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    assert callable(content)
    environ = environment(tmp_path, base_url=server.base_url)
    if where == "user-file":
        path = tmp_path / "config" / "personas.toml"
        path.parent.mkdir(parents=True)
        args = ["hello"]
    else:
        path = tmp_path / "huge.toml"
        args = ["--personas", str(path), "hello"]
    path.write_text(content(), encoding="utf-8")
    result = run_one_shot(["--raw", *args], environ=environ)
    assert result.code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"chatbot: {path}: ")
    assert says in line
    assert len(line) < 400
    assert server.chat_requests == []


# --- the real process ---------------------------------------------------------------


def _run_process(
    args: list[str], *, stdin: bytes, server: FakeOpenAIServer
) -> subprocess.CompletedProcess[bytes]:
    environ = dict(os.environ, OPENAI_API_KEY="sk-test-hostile-input", CHATBOT_LOCAL="0")
    environ["OPENAI_BASE_URL"] = server.base_url
    return subprocess.run(
        [chatbot_executable(), "--raw", *args],
        input=stdin,
        capture_output=True,
        env=environ,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def test_a_real_process_survives_invalid_utf8_on_stdin(server: FakeOpenAIServer) -> None:
    result = _run_process([], stdin=b"caf\xe9 \xff\x00 end\n", server=server)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert result.stdout == "You said: caf\ufffd \ufffd end\n".encode()
    assert sent_texts(server) == ["caf\ufffd \ufffd end"]


def test_a_real_process_survives_an_argument_that_is_not_utf8(
    server: FakeOpenAIServer,
) -> None:
    result = _run_process([os.fsdecode(b"bad \xff byte")], stdin=b"", server=server)
    assert result.returncode == 0, result.stderr
    assert sent_texts(server) == ["bad \ufffd byte"]
