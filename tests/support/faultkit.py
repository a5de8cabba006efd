"""The shared harness of the reliability suites: a REPL a user could type into, and
``chatbot QUESTION`` run in-process, both against the fake server with a fake clock.

:class:`ReplHarness` runs the real REPL (PromptSession on a pipe, real store, real retry
countdown) and reports each stretch of input as a :class:`Step`; :func:`run_one_shot`
runs :class:`~chatbot.app.App` as ``chatbot.cli.main`` would. :func:`endpoint` points
either at the fake server, a closed port or a host name that never resolves. Retries
wait on :class:`FakeTime`: nothing sleeps for real.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import socket
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from chatbot.cli import main
from chatbot.conversation.messages import Message, ReplyStatus
from chatbot.engine.building import Storage, build_session
from chatbot.engine.opening import open_server
from chatbot.engine.plan import RunRequest, plan_run
from chatbot.render import ReplyRenderer, make_renderer
from chatbot.repl import countdown
from chatbot.repl.countdown import CountdownWaiter
from chatbot.repl.notices import Notices
from chatbot.repl.startup import build_chat
from chatbot.settings.config import ConfigFlags
from chatbot.settings.paths import AppPaths
from chatbot.settings.personas import PersonaBook
from chatbot.store.database import Store
from tests.support.fakeserver import FakeOpenAIServer

__all__ = [
    "ATTEMPTS",
    "KEY",
    "MISCONFIGURED",
    "TRACEBACK",
    "URL_PASSWORD",
    "Endpoint",
    "FakeTime",
    "OneShot",
    "ReplHarness",
    "Step",
    "Tap",
    "Transcript",
    "assistant",
    "cached_replies",
    "echo",
    "endpoint",
    "environment",
    "paste",
    "patch_countdown",
    "repl_harness",
    "run_one_shot",
    "stored_one_shot",
    "transcript",
    "user",
]

#: A realistic project key: long enough that a leak of any part would be noticed.
KEY = "sk-proj-Q3vT9xLm2Pa7Rk4Wn8Zb1Yc6Hd0Fg5Js3Ue7Ki2Ov9Nq4Xt8Mw1Lr6Sy0Bp5Cj"
#: Retries allowed after a rate limit or a server error, in both modes.
ATTEMPTS = 2
TRACEBACK = "Traceback"

Transcript = list[tuple[str, str, str]]


class FakeTime:
    """A clock and a sleep for the countdown: waits are recorded, never slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        #: Set to make the next wait end as if the user pressed Ctrl-C.
        self.interrupt = False

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.interrupt:
            self.interrupt = False
            raise KeyboardInterrupt
        self.slept.append(seconds)
        self.now += seconds


class Tap:
    """Passes a reply on to the real renderer and remembers what the user was shown."""

    def __init__(self, inner: ReplyRenderer) -> None:
        self.inner = inner
        self.chunks: list[str] = []

    def think(self, text: str) -> None:
        self.inner.think(text)

    def feed(self, text: str) -> None:
        self.chunks.append(text)
        self.inner.feed(text)

    def finish(self) -> None:
        self.inner.finish()

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def transcript(messages: Sequence[Message]) -> Transcript:
    """(role, content, status) of each message: what a user could tell apart."""
    return [(m.role.value, m.content, m.status.value) for m in messages]


def user(text: str) -> tuple[str, str, str]:
    return ("user", text, "complete")


def assistant(text: str, status: ReplyStatus = ReplyStatus.COMPLETE) -> tuple[str, str, str]:
    return ("assistant", text, status.value)


def echo(text: str) -> str:
    """What the fake server answers when nothing else is scripted."""
    return f"You said: {text}"


def paste(text: str) -> str:
    """``text`` as a terminal delivers a bracketed paste, then Enter."""
    return f"\x1b[200~{text}\x1b[201~\r"


@dataclass(kw_only=True)
class Step:
    """What one stretch of REPL input produced."""

    code: int
    #: Lines on the REPL's console: errors, warnings, hints (replies go elsewhere).
    notices: list[str]
    #: Lines the retry countdown printed.
    status: list[str]
    #: The text of each reply shown during the step.
    shown: list[str]
    #: Everything written anywhere, for checks that nothing leaked.
    everything: str


class ReplHarness:
    """The REPL as a user meets it: a real PromptSession on a pipe, a real store.

    Notices, the countdown and replies go to separate buffers so each can be checked
    on its own; ``terminal=True`` makes them look like a colour terminal to rich.
    """

    def __init__(
        self,
        *,
        base_url: str,
        pipe: PipeInput,
        home: Path,
        flags: Mapping[str, object] | None = None,
        key: str = KEY,
        markdown: bool = False,
        terminal: bool = False,
        personas: PersonaBook | None = None,
    ) -> None:
        self.pipe = pipe
        self.home = home
        self.key = key
        self.store_path = home / "data" / "conversations.sqlite3"
        self.history_path = home / "data" / "input-history"
        paths = AppPaths(config_dir=home / "config", data_dir=home / "data")
        given = {"base_url": base_url, "timeout": 5.0, "retries": ATTEMPTS, "max_wait": 5.0}
        request = RunRequest(flags=ConfigFlags(**{**given, **(flags or {})}))
        # The engine's own steps, as the app takes them: plan, open, build.
        plan = plan_run(request, environ={"OPENAI_API_KEY": key}, paths=paths)
        self.server = open_server(plan, warn=lambda _: None)
        self.client = self.server.backend(notify=lambda _: None)
        self.store = Store.open(self.store_path)
        storage = Storage.on(self.store)
        self.journal = storage.journal
        self.time = FakeTime()
        self.out, self.status_out, self.reply_out = io.StringIO(), io.StringIO(), io.StringIO()
        self.console = _console(self.out, terminal=terminal)
        self.reply_console = _console(self.reply_out, terminal=terminal)
        self.notices = Notices(console=self.console)
        waiter = CountdownWaiter(
            console=_console(self.status_out, terminal=False),
            clock=self.time.clock,
            sleep=self.time.sleep,
        )
        book = personas or plan.book_for(self.server)
        self.session = build_session(
            plan,
            self.server,
            storage=storage,
            notify=self.notices.hint,
            waiter=waiter,
            persona=book.get(plan.persona_name),
        )
        self.taps: list[Tap] = []
        self._markdown = markdown
        self.chat = build_chat(
            session=self.session,
            server=self.server,
            book=book,
            notices=self.notices,
            renderer_factory=self._renderer,
            # Ctrl-X Ctrl-E runs $EDITOR from the test's environment, as the app does.
            environ=os.environ,
            history_path=self.history_path,
            storage=storage,
            input=pipe,
            output=DummyOutput(),
        )
        self.prompt = self.chat.prompt
        self.repl = self.chat.repl
        self.copied: list[str] = []
        self.repl.context.copy = self.copied.append

    def _renderer(self) -> Tap:
        inner = make_renderer(
            console=self.reply_console, markdown=self._markdown, file=self.reply_out
        )
        tap = Tap(inner)
        self.taps.append(tap)
        return tap

    def step(self, keys: str) -> Step:
        """Type ``keys``, then Ctrl-D; returns once the REPL has read the Ctrl-D."""
        for buffer in (self.out, self.status_out, self.reply_out):
            buffer.seek(0)
            buffer.truncate()
        first = len(self.taps)
        # Each start of the loop greets while the conversation is empty; that is not news.
        greeting = None if self.session.conversation.messages else self.session.persona.greeting
        # A pipe holds 64 KiB: larger input must be written while the prompt reads it.
        writer = threading.Thread(target=self.pipe.send_text, args=(keys + "\x04",))
        writer.start()
        try:
            code = self.repl.run()
        finally:
            writer.join(timeout=30)
        everything = self.out.getvalue() + self.status_out.getvalue() + self.reply_out.getvalue()
        notices = self.out.getvalue().splitlines()
        if greeting and [_unstyled(line) for line in notices[:1]] == [greeting]:
            del notices[0]
        return Step(
            code=code,
            notices=notices,
            status=self.status_out.getvalue().splitlines(),
            shown=[tap.text for tap in self.taps[first:]],
            everything=everything,
        )

    @property
    def held(self) -> Transcript:
        """The conversation in memory."""
        return transcript(self.session.conversation.messages)

    @property
    def stored(self) -> Transcript:
        """The conversation as the store has it."""
        if self.journal.conversation_id is None:
            return []
        return transcript(self.store.load_conversation(self.journal.conversation_id).messages)

    def close(self) -> None:
        self.server.close()
        self.store.close()


def _unstyled(line: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def _console(file: TextIO, *, terminal: bool) -> Console:
    if terminal:
        return Console(
            file=file, width=80, force_terminal=True, color_system="truecolor", highlight=False
        )
    return Console(file=file, width=80, color_system=None, highlight=False)


@contextlib.contextmanager
def repl_harness(*, base_url: str, home: Path, **options: Any) -> Iterator[ReplHarness]:
    """A :class:`ReplHarness` on a fresh pipe, closed afterwards."""
    with create_pipe_input() as pipe:
        harness = ReplHarness(base_url=base_url, pipe=pipe, home=home, **options)
        try:
            yield harness
        finally:
            harness.close()


@dataclass(kw_only=True)
class OneShot:
    """How one in-process ``chatbot QUESTION`` run ended."""

    code: int
    stdout: str
    stderr: str

    @property
    def said(self) -> list[str]:
        """The lines the tool itself wrote on stderr (not the retry countdown)."""
        return [line for line in self.stderr.splitlines() if line.startswith("chatbot: ")]


def environment(home: Path, *, base_url: str, key: str = KEY) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": key,
        "OPENAI_BASE_URL": base_url,
        "CHATBOT_CONFIG_DIR": str(home / "config"),
        "CHATBOT_DATA_DIR": str(home / "data"),
        "CHATBOT_LOCAL": "0",
    }


def run_one_shot(
    argv: Sequence[str],
    *,
    environ: Mapping[str, str],
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> OneShot:
    """``chatbot ARGV`` in-process, through the same ``main`` the shell runs."""
    out = stdout if stdout is not None else io.StringIO()
    err = io.StringIO()
    code = main(
        list(argv),
        environ=environ,
        stdin=stdin if stdin is not None else io.StringIO(""),
        stdout=out,
        stderr=err,
    )
    return OneShot(code=code, stdout=_written(out), stderr=err.getvalue())


def _written(stream: TextIO) -> str:
    """What was written to a StringIO, or to a text wrapper over a BytesIO."""
    if isinstance(stream, io.StringIO):
        return stream.getvalue()
    stream.flush()
    raw = stream.buffer
    assert isinstance(raw, io.BytesIO)
    return raw.getvalue().decode("utf-8")


def stored_one_shot(home: Path) -> Transcript:
    """The newest conversation in the one-shot store."""
    store = Store.open(home / "data" / "conversations.sqlite3")
    try:
        latest = store.latest_conversation_id()
        return [] if latest is None else transcript(store.load_conversation(latest).messages)
    finally:
        store.close()


def cached_replies(store_path: Path) -> list[str]:
    """Every reply in the response cache, oldest first (read straight from the file)."""
    with contextlib.closing(sqlite3.connect(store_path)) as conn:
        rows = conn.execute("SELECT reply FROM response_cache ORDER BY created_at").fetchall()
    return [str(row[0]) for row in rows]


def patch_countdown(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """Give the app's real countdown a fake clock: its retries wait no real time."""
    fake = FakeTime()
    waiter = functools.partial(CountdownWaiter, clock=fake.clock, sleep=fake.sleep)
    monkeypatch.setattr(countdown, "CountdownWaiter", waiter)
    return fake


def _closed_port() -> int:
    """A local port nothing listens on (until a test starts a server there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: A password in the base URL (``http://user:PASSWORD@host/v1``): as secret as the key.
URL_PASSWORD = "pw-9Tq4zXv7Lm"
_USERINFO = f"bob:{URL_PASSWORD}@"
_SHOWN_USERINFO = "bob:***@"

#: Endpoint kinds where the base URL itself is wrong: /retry cannot help.
MISCONFIGURED = {
    # The chat endpoint given as the base URL.
    "endpoint-url": ("openai", "/v1/chat/completions"),
    # No /v1: OpenAI's JSON "Invalid URL", Ollama's plain 404, a web app's catch-all page.
    "no-v1-openai": ("openai", ""),
    "no-v1-ollama": ("ollama", ""),
    "no-v1-webapp": ("webapp", ""),
}


class Endpoint:
    """Where the chatbot is pointed: the fake server, a closed port, or a bad host name.

    A closed port can come back to life (``revive``): the server starts there, as a
    user's local server would after they notice it was down. The ``MISCONFIGURED``
    kinds point at a working server through a wrong base URL. With ``password`` the
    base URL carries ``bob:URL_PASSWORD@``; ``shown_url`` is how errors must show it.
    """

    def __init__(self, kind: str, *, password: bool = False) -> None:
        self.kind = kind
        self.server: FakeOpenAIServer | None = None
        self._port = 0
        self._userinfo = _USERINFO if password else ""
        path = "/v1"
        if kind == "server":
            # Strict about roles, as vLLM's and Mistral's templates are: every request
            # of every row must alternate, whatever happened before (issue 23).
            self.server = FakeOpenAIServer(strict_roles=True).start()
            self._port = self.server.port
        elif kind in MISCONFIGURED:
            not_found, path = MISCONFIGURED[kind]
            self.server = FakeOpenAIServer(not_found=not_found).start()
            self._port = self.server.port
        elif kind == "refused":
            self._port = _closed_port()
        elif kind != "dns":
            raise ValueError(kind)
        if kind == "dns":
            # The reserved .invalid TLD never resolves (RFC 6761).
            self.root = "http://api.chatbot-faults.invalid"
        else:
            self.root = f"http://127.0.0.1:{self._port}"
        self.base_url = self._url(self.root + path, self._userinfo)
        #: The base URL as every message must show it: the password redacted.
        self.shown_url = self._url(self.root + path, _SHOWN_USERINFO if password else "")
        #: The server's real API base URL, as shown.
        self.api_url = self._url(self.root + "/v1", _SHOWN_USERINFO if password else "")

    @staticmethod
    def _url(url: str, userinfo: str) -> str:
        return url.replace("://", f"://{userinfo}", 1)

    @property
    def requests(self) -> int:
        return len(self.server.chat_requests) if self.server is not None else 0

    def revive(self) -> bool:
        """Bring the server up if it was down; False when it cannot come back."""
        if self.kind in MISCONFIGURED:
            return False  # the server is fine; the base URL is what is wrong
        if self.kind == "refused" and self.server is None:
            self.server = FakeOpenAIServer(port=self._port).start()
        return self.server is not None

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            assert self.server.errors == []


@contextlib.contextmanager
def endpoint(kind: str, *, password: bool = False) -> Iterator[Endpoint]:
    target = Endpoint(kind, password=password)
    try:
        yield target
    finally:
        target.close()
