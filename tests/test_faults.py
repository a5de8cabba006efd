"""Every server and network fault of issue 5, in the REPL and in one-shot mode.

Each fault is one row of ``FAULTS``. For each row, in both modes, the user gets one
clear line (or none, when the fault is only a server quirk), no traceback, and the
conversation and the store hold exactly what the user saw: a partial reply kept and
marked, a failed question kept so ``/retry`` can ask it again. The REPL runs a real
PromptSession on a pipe and a real store; one-shot mode runs :class:`App` in-process.
Retries use the real policy and countdown with a fake clock: nothing sleeps for real.

The REPL harness and the one-shot runner are shared with the other reliability suites.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pytest
from fakeserver import FakeOpenAIServer, Reply
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from chatbot import countdown
from chatbot.app import App
from chatbot.chat import ChatSession
from chatbot.cli import build_parser
from chatbot.client import ChatClient
from chatbot.commands import builtin_commands
from chatbot.config import resolve_config
from chatbot.countdown import CountdownWaiter
from chatbot.errors import ChatbotError
from chatbot.messages import Message, ReplyStatus
from chatbot.persistence import StoreJournal
from chatbot.personas import PersonaBook, load_personas
from chatbot.prompt import SlashCompleter, build_prompt_session
from chatbot.render import ReplyRenderer, make_renderer
from chatbot.repl import Repl
from chatbot.retry import RetryPolicy
from chatbot.secrets import Redactor
from chatbot.session_commands import add_store_commands
from chatbot.store import Store

#: A realistic project key: long enough that a leak of any part would be noticed.
KEY = "sk-proj-Q3vT9xLm2Pa7Rk4Wn8Zb1Yc6Hd0Fg5Js3Ue7Ki2Ov9Nq4Xt8Mw1Lr6Sy0Bp5Cj"
#: Retries allowed after a rate limit or a server error, in both modes.
ATTEMPTS = 2
RETRY_HINT = "your message is kept: /retry to send it again"
TRACEBACK = "Traceback"

Transcript = list[tuple[str, str, str]]


# --- shared machinery ---------------------------------------------------------------


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
        self.store = Store.open(self.store_path)
        self.journal = StoreJournal(self.store)
        config = resolve_config(
            flags={"base_url": base_url, "timeout": 5.0, **(flags or {})},
            env={"OPENAI_API_KEY": key},
        )
        book = personas or load_personas()
        self.client = ChatClient(
            api_key=key,
            base_url=base_url,
            timeout=config.timeout,
            max_retries=0,
            redact=Redactor([key]),
        )
        self.time = FakeTime()
        self.out, self.status_out, self.reply_out = io.StringIO(), io.StringIO(), io.StringIO()
        self.console = _console(self.out, terminal=terminal)
        self.reply_console = _console(self.reply_out, terminal=terminal)
        waiter = CountdownWaiter(
            console=_console(self.status_out, terminal=False),
            clock=self.time.clock,
            sleep=self.time.sleep,
        )
        self.session = ChatSession(
            config=config,
            persona=book.get(config.persona_name or "default"),
            client=self.client,
            journal=self.journal,
            retry_policy=RetryPolicy(attempts=ATTEMPTS, max_wait=5.0),
            waiter=waiter,
        )
        commands = builtin_commands(personas=book)
        add_store_commands(commands, store=self.store, journal=self.journal, confirm=lambda _: True)
        self.prompt = build_prompt_session(
            history_path=self.history_path,
            completer=SlashCompleter(commands=commands.names, arguments=commands.argument_choices),
            input=pipe,
            output=DummyOutput(),
        )
        self.taps: list[Tap] = []
        self._markdown = markdown
        self.repl = Repl(
            session=self.session,
            prompt=self.prompt,
            console=self.console,
            personas=book,
            commands=commands,
            renderer_factory=self._renderer,
        )
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
        self.client.close()
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
    """``chatbot ARGV`` in-process, ending a domain error as ``chatbot.cli.main`` does."""
    out = stdout if stdout is not None else io.StringIO()
    err = io.StringIO()
    app = App(
        environ=environ,
        stdin=stdin if stdin is not None else io.StringIO(""),
        stdout=out,
        stderr=err,
    )
    try:
        code = app.run(build_parser().parse_args(list(argv)))
    except ChatbotError as exc:
        app.report(exc)
        code = exc.exit_code
    finally:
        app.close()
    return OneShot(code=code, stdout=written(out), stderr=err.getvalue())


def written(stream: TextIO) -> str:
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


def patch_countdown(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """Give the app's real countdown a fake clock: its retries wait no real time."""
    fake = FakeTime()
    waiter = functools.partial(CountdownWaiter, clock=fake.clock, sleep=fake.sleep)
    monkeypatch.setattr(countdown, "CountdownWaiter", waiter)
    return fake


@pytest.fixture
def fake_countdown(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    return patch_countdown(monkeypatch)


def closed_port() -> int:
    """A local port nothing listens on (until a test starts a server there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Endpoint:
    """Where the chatbot is pointed: the fake server, a closed port, or a bad host name.

    A closed port can come back to life (``revive``): the server starts there, as a
    user's local server would after they notice it was down.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.server: FakeOpenAIServer | None = None
        self._port = 0
        if kind == "server":
            self.server = FakeOpenAIServer().start()
            self.base_url = self.server.base_url
        elif kind == "refused":
            self._port = closed_port()
            self.base_url = f"http://127.0.0.1:{self._port}/v1"
        elif kind == "dns":
            # The reserved .invalid TLD never resolves (RFC 6761).
            self.base_url = "http://api.chatbot-faults.invalid/v1"
        else:
            raise ValueError(kind)

    @property
    def requests(self) -> int:
        return len(self.server.chat_requests) if self.server is not None else 0

    def revive(self) -> bool:
        """Bring the server up if it was down; False when it cannot come back."""
        if self.kind == "refused" and self.server is None:
            self.server = FakeOpenAIServer(port=self._port).start()
        return self.server is not None

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            assert self.server.errors == []


@contextlib.contextmanager
def endpoint(kind: str) -> Iterator[Endpoint]:
    target = Endpoint(kind)
    try:
        yield target
    finally:
        target.close()


def assert_nothing_leaked(*outputs: str, key: str = KEY) -> None:
    for output in outputs:
        assert TRACEBACK not in output
        assert key not in output


# --- the faults ---------------------------------------------------------------------

QUESTION = "what is the answer?"
NEXT = "and then?"
ANSWER = "The answer is forty-two, as everyone knows."
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
RATE_LIMIT = "Rate limit reached for requests. Please try again in 1s."
SSE_ERROR = {"message": "upstream model crashed", "type": "server_error"}


def history_turn(n: int) -> str:
    """A bulky earlier question, so there is history to trim."""
    return f"turn {n}: " + "filler " * 60


@dataclass(frozen=True, kw_only=True)
class Fault:
    name: str
    #: Replies for the faulty turn's requests, in order; later requests get the echo.
    replies: tuple[Reply, ...] = ()
    #: The one line the user sees, as a regex; ``{url}`` is the base URL. None: no error.
    error: str | None = None
    #: The one line shown when a reply ended early without failing, as a regex.
    warning: str | None = None
    #: The reply text the user saw, which must be what is kept.
    shown: str = ""
    #: How the kept reply is marked; None when no reply is kept.
    status: ReplyStatus | None = None
    #: Chat requests the faulty turn makes: the first, retries and re-sends.
    requests: int = 1
    #: Retry-After the countdown must honour, before each retry.
    waits: tuple[float, ...] = ()
    #: Retries with exponential backoff (no Retry-After).
    backoff: int = 0
    flags: Mapping[str, object] = field(default_factory=dict)
    #: Earlier exchanges, so there is history to trim.
    history: int = 0
    endpoint: str = "server"
    #: REPL input that recovers after a failure, and the notices it shows.
    recover: str = "/retry"
    recover_notices: tuple[str, ...] = ()

    @property
    def kept(self) -> Transcript:
        """What the faulty turn leaves in the conversation and the store."""
        reply = [] if self.status is None else [assistant(self.shown, self.status)]
        return [user(QUESTION), *reply]


def _times(reply: Reply, count: int) -> tuple[Reply, ...]:
    return (reply,) * count


def _server_error(status: int) -> Fault:
    return Fault(
        name=f"http-{status}",
        replies=_times(Reply(status=status), ATTEMPTS + 1),
        error=rf"server error {status} from {{url}}: {re.escape(SERVER_ERROR)}",
        requests=ATTEMPTS + 1,
        backoff=ATTEMPTS,
    )


FAULTS = [
    Fault(
        name="http-401",
        replies=(Reply(status=401),),
        error=r"the server rejected the API key \(401\): check OPENAI_API_KEY "
        r"\(Incorrect API key provided\.\)",
    ),
    Fault(
        name="http-403",
        replies=(Reply(status=403),),
        error=r"the server rejected the API key \(403\): check OPENAI_API_KEY "
        r"\(You are not allowed to access this resource\.\)",
    ),
    Fault(
        name="http-404-unknown-model",
        replies=(Reply(status=404),),
        flags={"model": "no-such-model"},
        error=r"model 'no-such-model' not found at {url} "
        r"\(available: fake-model, gpt-4o-mini; switch with /model NAME or --model\)",
        recover="/model fake-model\r/retry",
        recover_notices=("model: fake-model",),
    ),
    Fault(
        name="http-400-context-length-nothing-to-trim",
        replies=(Reply(status=400, context_length_error=True),),
        error=r"the server says the conversation is longer than the model's context "
        r"\(This model's maximum context length is 8192 tokens\..*\) — even the newest "
        r"message alone is too long for this model; shorten it, or set --context-window "
        r"to the model's real size",
    ),
    Fault(
        name="http-400-context-length-trimmed-then-explained",
        replies=_times(Reply(status=400, context_length_error=True), 2),
        history=3,
        error=r"the server says the conversation is longer than the model's context "
        r"\(This model's maximum context length is 8192 tokens\. However, your messages "
        r"resulted in 9000 tokens\. Please reduce the length of the messages\.\)",
        requests=2,
    ),
    Fault(
        name="http-400-context-length-trimmed-and-answered",
        replies=(Reply(status=400, context_length_error=True), Reply(text=ANSWER)),
        history=3,
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
        requests=2,
    ),
    Fault(
        name="http-429-retry-after",
        replies=_times(Reply(status=429, headers={"Retry-After": "1"}), ATTEMPTS + 1),
        error=rf"rate limited by {{url}}; the server asks to wait 1s \({re.escape(RATE_LIMIT)}\)",
        requests=ATTEMPTS + 1,
        waits=(1.0,) * ATTEMPTS,
    ),
    Fault(
        name="http-429-no-retry-after",
        replies=_times(Reply(status=429), ATTEMPTS + 1),
        error=rf"rate limited by {{url}} \({re.escape(RATE_LIMIT)}\)",
        requests=ATTEMPTS + 1,
        backoff=ATTEMPTS,
    ),
    _server_error(500),
    _server_error(502),
    _server_error(503),
    Fault(
        name="connection-refused",
        endpoint="refused",
        error=r"cannot reach {url} \(connection refused\)",
        requests=0,
    ),
    Fault(
        name="dns-failure",
        endpoint="dns",
        error=r"cannot reach {url} \(the host name does not resolve\)",
        requests=0,
    ),
    Fault(
        name="no-first-byte-hang",
        replies=(Reply(hang=True),),
        flags={"timeout": 0.5},
        error=r"no answer from {url} within 0\.5s",
    ),
    Fault(
        name="no-first-byte-slow",
        replies=(Reply(first_byte_delay=2.0),),
        flags={"timeout": 0.5},
        error=r"no answer from {url} within 0\.5s",
    ),
    Fault(
        name="dropped-mid-stream",
        replies=(Reply(text=ANSWER, drop_after_chars=13),),
        error=r"the connection to {url} dropped mid-reply",
        shown=ANSWER[:13],
        status=ReplyStatus.FAILED,
    ),
    Fault(
        name="malformed-sse-line",
        replies=(Reply(text=ANSWER, malformed_line=True),),
        error=r"the server sent a malformed reply \(JSONDecodeError\)",
        shown=ANSWER[:8],
        status=ReplyStatus.FAILED,
    ),
    Fault(
        name="sse-error-event-mid-reply",
        replies=(Reply(text=ANSWER, sse_error=SSE_ERROR),),
        error=r"the stream failed: upstream model crashed",
        shown=ANSWER,
        status=ReplyStatus.FAILED,
    ),
    Fault(
        name="sse-error-event-before-text",
        replies=_times(Reply(text="", sse_error=SSE_ERROR), ATTEMPTS + 1),
        error=r"the server reported an error: upstream model crashed",
        requests=ATTEMPTS + 1,
        backoff=ATTEMPTS,
    ),
    Fault(
        name="empty-choices-chunk",
        replies=(Reply(text=ANSWER, empty_choices_first=True),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="delta-content-none",
        replies=(Reply(text=ANSWER, none_content_chunks=True),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="finish-reason-length",
        replies=(Reply(text=ANSWER, finish_reason="length"),),
        # The REPL may go on to offer /continue (see test_a_cut_reply_offers_continue).
        warning=r"the reply was cut by the max_tokens limit.*",
        shown=ANSWER,
        status=ReplyStatus.LENGTH,
    ),
    Fault(
        name="finish-reason-content-filter",
        replies=(Reply(text="I can", finish_reason="content_filter"),),
        warning="the server's content filter stopped the reply",
        shown="I can",
        status=ReplyStatus.FILTERED,
    ),
    Fault(
        name="ignores-stream-options",
        replies=(Reply(text=ANSWER, usage=False),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="rejects-stream-options",
        replies=_times(Reply(text=ANSWER, reject_stream_options=True), 2),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
        requests=2,
    ),
    Fault(
        name="non-streaming-server",
        replies=(Reply(text=ANSWER, ignore_stream=True),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
]


def _ids(faults: Sequence[Fault]) -> list[str]:
    return [fault.name for fault in faults]


def check_waits(fault: Fault, slept: Sequence[float]) -> None:
    """The countdown honoured Retry-After, or backed off with jitter, and nothing else."""
    if fault.backoff:
        assert len(slept) == fault.backoff
        for number, seconds in enumerate(slept, start=1):
            ceiling = 2.0 ** (number - 1)
            assert ceiling / 2 <= seconds <= ceiling
    else:
        assert list(slept) == list(fault.waits)


def history_transcript(turns: int) -> Transcript:
    kept: Transcript = []
    for n in range(turns):
        kept += [user(history_turn(n)), assistant(echo(history_turn(n)))]
    return kept


# --- the REPL -----------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=_ids(FAULTS))
def test_repl_survives(fault: Fault, tmp_path: Path) -> None:
    with (
        endpoint(fault.endpoint) as target,
        repl_harness(base_url=target.base_url, home=tmp_path, flags=fault.flags) as repl,
    ):
        if fault.history:
            repl.step("".join(history_turn(n) + "\r" for n in range(fault.history)))
        history = history_transcript(fault.history)
        assert repl.held == history
        if target.server is not None:
            target.server.enqueue(*fault.replies)
        before = target.requests

        step = repl.step(QUESTION + "\r")

        assert step.code == 0  # back at the prompt: it went on to read the Ctrl-D
        assert_nothing_leaked(step.everything)
        if fault.error is not None:
            error, hint = step.notices
            pattern = "error: " + fault.error.format(url=re.escape(target.base_url))
            assert re.fullmatch(pattern, error)
            assert hint == RETRY_HINT
        elif fault.warning is not None:
            (warning,) = step.notices
            assert re.fullmatch(fault.warning, warning)
        else:
            assert step.notices == []
        assert step.shown == [fault.shown]
        assert repl.held == repl.stored == history + fault.kept
        assert target.requests - before == fault.requests
        check_waits(fault, repl.time.slept)
        if fault.history and fault.requests == 2:
            assert target.server is not None
            first, second = (r.body["messages"] for r in target.server.chat_requests[-2:])
            assert len(second) < len(first)  # trimmed harder before asking again
            assert second[-1]["content"] == QUESTION

        if fault.error is not None:
            if not target.revive():
                # Nothing can reach a name that does not resolve: /retry says so again.
                again = repl.step("/retry\r")
                assert again.notices == step.notices
                assert repl.held == repl.stored == history + fault.kept
                return
            retried = repl.step(fault.recover + "\r")
            assert retried.notices == list(fault.recover_notices)
            assert retried.shown == [echo(QUESTION)]
            answered = [*history, user(QUESTION), assistant(echo(QUESTION))]
            assert repl.held == repl.stored == answered
            assert target.server is not None
            sent = target.server.chat_requests[-1].body["messages"]
            assert sent[-1] == {"role": "user", "content": QUESTION}
        else:
            answered = history + fault.kept

        following = repl.step(NEXT + "\r")
        assert following.notices == []
        assert following.shown == [echo(NEXT)]
        assert repl.held == repl.stored == [*answered, user(NEXT), assistant(echo(NEXT))]
        assert QUESTION in repl.history_path.read_text(encoding="utf-8")


# --- one-shot mode ------------------------------------------------------------------


def _one_shot_params() -> list[object]:
    return [pytest.param(fault, id=fault.name) for fault in FAULTS]


def _flag_args(flags: Mapping[str, object]) -> list[str]:
    args: list[str] = []
    for name, value in flags.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return args


@pytest.mark.parametrize("fault", _one_shot_params())
def test_one_shot_reports(fault: Fault, tmp_path: Path, fake_countdown: FakeTime) -> None:
    with endpoint(fault.endpoint) as target:
        environ = environment(tmp_path, base_url=target.base_url)
        for n in range(fault.history):
            warm = run_one_shot(["--raw", *(["-c"] if n else []), history_turn(n)], environ=environ)
            assert warm.code == 0
        if target.server is not None:
            target.server.enqueue(*fault.replies)
        before = target.requests
        argv = ["--raw", "--retries", str(ATTEMPTS), "--max-wait", "5", *_flag_args(fault.flags)]
        result = run_one_shot(
            [*argv, *(["-c"] if fault.history else []), QUESTION], environ=environ
        )

        assert_nothing_leaked(result.stdout, result.stderr)
        if fault.error is not None:
            assert result.code == 1
            (line,) = result.said
            pattern = "chatbot: " + fault.error.format(url=re.escape(target.base_url))
            assert re.fullmatch(pattern, line)
        else:
            assert result.code == 0
            if fault.warning is not None:
                (warning,) = result.said
                assert re.fullmatch(f"chatbot: {fault.warning}", warning)
            else:
                assert result.said == []
        assert result.stdout == (fault.shown + "\n" if fault.shown else "")
        assert stored_one_shot(tmp_path) == history_transcript(fault.history) + fault.kept
        assert target.requests - before == fault.requests
        check_waits(fault, fake_countdown.slept)


# --- retries the user can see -------------------------------------------------------

TRANSIENT = [
    pytest.param(
        Reply(status=429, headers={"Retry-After": "1"}), (1.0,), id="http-429-retry-after"
    ),
    pytest.param(Reply(status=429), None, id="http-429-no-retry-after"),
    pytest.param(Reply(status=500), None, id="http-500"),
    pytest.param(Reply(status=502), None, id="http-502"),
    pytest.param(
        Reply(status=503, headers={"Retry-After": "2"}), (2.0,), id="http-503-retry-after"
    ),
    pytest.param(Reply(text="", sse_error=SSE_ERROR), None, id="sse-error-before-text"),
]


def _check_one_retry(waits: tuple[float, ...] | None, slept: Sequence[float]) -> None:
    if waits is not None:
        assert list(slept) == list(waits)
    else:
        (seconds,) = slept
        assert 0.5 <= seconds <= 1.0  # the first backoff step, with jitter


def _unwrapped(lines: Sequence[str]) -> str:
    return " ".join(" ".join(lines).split())


@pytest.mark.parametrize(("fault", "waits"), TRANSIENT)
def test_repl_retries_visibly_and_recovers(
    fault: Reply, waits: tuple[float, ...] | None, tmp_path: Path
) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path) as repl,
    ):
        assert target.server is not None
        target.server.enqueue(fault, Reply(text=ANSWER))
        step = repl.step(QUESTION + "\r")
        assert step.notices == []
        assert step.shown == [ANSWER]
        assert f"(retry 1 of {ATTEMPTS}; Ctrl-C cancels)" in _unwrapped(step.status)
        assert repl.held == repl.stored == [user(QUESTION), assistant(ANSWER)]
        assert target.requests == 2
        _check_one_retry(waits, repl.time.slept)


@pytest.mark.parametrize(("fault", "waits"), TRANSIENT)
def test_one_shot_retries_visibly_and_recovers(
    fault: Reply, waits: tuple[float, ...] | None, tmp_path: Path, fake_countdown: FakeTime
) -> None:
    with endpoint("server") as target:
        assert target.server is not None
        target.server.enqueue(fault, Reply(text=ANSWER))
        result = run_one_shot(
            ["--raw", "--retries", str(ATTEMPTS), QUESTION],
            environ=environment(tmp_path, base_url=target.base_url),
        )
        assert result.code == 0
        assert result.stdout == ANSWER + "\n"
        assert result.said == []
        assert f"(retry 1 of {ATTEMPTS}; Ctrl-C cancels)" in _unwrapped(result.stderr.splitlines())
        assert stored_one_shot(tmp_path) == [user(QUESTION), assistant(ANSWER)]
        _check_one_retry(waits, fake_countdown.slept)


def test_the_retry_notice_is_one_line_in_a_log(tmp_path: Path, fake_countdown: FakeTime) -> None:
    with endpoint("server") as target:
        assert target.server is not None
        target.server.enqueue(Reply(status=500), Reply(text=ANSWER))
        result = run_one_shot(
            ["--raw", QUESTION], environ=environment(tmp_path, base_url=target.base_url)
        )
        (line,) = result.stderr.splitlines()
        url = re.escape(target.base_url)
        assert re.fullmatch(
            rf"server error 500 from {url}: {re.escape(SERVER_ERROR)} — retrying in "
            r"\d\.\ds \(retry 1 of 3; Ctrl-C cancels\)",
            line,
        )


def test_ctrl_c_during_the_countdown_keeps_the_question(tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path) as repl,
    ):
        assert target.server is not None
        target.server.enqueue(Reply(status=503))
        repl.time.interrupt = True
        step = repl.step(QUESTION + "\r")
        url = re.escape(target.base_url)
        error, hint = step.notices
        assert re.fullmatch(
            rf"error: server error 503 from {url}: {re.escape(SERVER_ERROR)} \(retry cancelled\)",
            error,
        )
        assert hint == RETRY_HINT
        assert target.requests == 1
        assert repl.held == repl.stored == [user(QUESTION)]
        retried = repl.step("/retry\r")
        assert retried.notices == []
        assert repl.held == repl.stored == [user(QUESTION), assistant(echo(QUESTION))]


def test_a_cut_reply_offers_continue(tmp_path: Path) -> None:
    with (
        endpoint("server") as target,
        repl_harness(base_url=target.base_url, home=tmp_path) as repl,
    ):
        assert target.server is not None
        target.server.enqueue(Reply(text=ANSWER, finish_reason="length"))
        cut = repl.step(QUESTION + "\r")
        (warning,) = cut.notices
        assert "/continue" in warning
        more = repl.step("/continue\r")
        assert more.notices == []
        assert target.requests == 2
        sent = target.server.chat_requests[-1].body["messages"]
        assert {"role": "assistant", "content": ANSWER} in sent
        assert more.shown and more.shown[0]
        assert repl.held == repl.stored


def test_a_host_name_that_cannot_be_resolved_offline_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    base_url = "http://api.example.com/v1"
    result = run_one_shot(["--raw", QUESTION], environ=environment(tmp_path, base_url=base_url))
    assert result.code == 1
    assert result.said == [f"chatbot: cannot reach {base_url} (the host name does not resolve)"]
