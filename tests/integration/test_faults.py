"""Every server and network fault of issues 5 and 11, in the REPL and in one-shot mode.

Each fault is one row of ``FAULTS``. For each row, in both modes, the user gets one
clear line (or none, when the fault is only a server quirk), no traceback, and the
conversation and the store hold exactly what the user saw: a partial reply kept and
marked, a failed question kept so ``/retry`` can ask it again. The REPL runs a real
PromptSession on a pipe and a real store; one-shot mode runs :class:`App` in-process.
Retries use the real policy and countdown with a fake clock: nothing sleeps for real.
Every row runs with the response cache on, which must only ever hold complete replies,
and with a password in the base URL, which must never show. The harness for both
modes lives in faultkit.py.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chatbot.conversation.messages import ReplyStatus
from tests.support.fakeserver import Reply
from tests.support.faultkit import (
    ATTEMPTS,
    KEY,
    TRACEBACK,
    URL_PASSWORD,
    Endpoint,
    FakeTime,
    Transcript,
    assistant,
    cached_replies,
    echo,
    endpoint,
    environment,
    patch_countdown,
    repl_harness,
    run_one_shot,
    stored_one_shot,
    user,
)

RETRY_HINT = "your message is kept: /retry to send it again"


@pytest.fixture
def fake_countdown(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    return patch_countdown(monkeypatch)


def assert_nothing_leaked(*outputs: str, key: str = KEY) -> None:
    for output in outputs:
        assert TRACEBACK not in output
        assert key not in output
        assert URL_PASSWORD not in output


# --- the faults ---------------------------------------------------------------------

QUESTION = "what is the answer?"
NEXT = "and then?"
ANSWER = "The answer is forty-two, as everyone knows."
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
RATE_LIMIT = "Rate limit reached for requests. Please try again in 1s."
SSE_ERROR = {"message": "upstream model crashed", "type": "server_error"}
#: llama.cpp's server reports a failure mid-stream as an "error:" SSE field.
LLAMA_ERROR = {"code": 500, "message": "llama_decode failed: no KV slot", "type": "server_error"}
CUT = r"the reply was cut: the stream ended before the server said it was finished"
OFFER_CONTINUE = "/continue asks for the rest, /retry asks again"
OFFER_RETRY = "/retry asks again"
PORTAL = "<html><head><title>Sign in to Wi-Fi</title></head><body>Accept the terms</body></html>"
#: Cloudflare's challenge page, as it answers API clients it will not let through.
CHALLENGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="refresh" content="390"></head><body><noscript>Enable JavaScript'
    " and cookies to continue</noscript></body></html>"
)
REFUSAL = "I'm sorry, but I can't help with that."


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
    #: The line for a reply that ended but is no answer (cut, empty, tool calls, abort),
    #: as a regex: exit 1 in one-shot; in the REPL ``error: LINE; OFFER``.
    ended: str | None = None
    offer: str = OFFER_RETRY
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
    #: False when a complete reply is still not cached (its bytes were damaged).
    cached: bool = True

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
        error=r"the server sent a malformed reply \(part of it is not valid JSON\)",
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
    # --- issue 11: a cut, empty or non-chat answer is never a success ---
    Fault(
        name="no-finish-close-delimited",
        replies=(Reply(text=ANSWER, finish_reason=None, done=False, framing="close"),),
        ended=CUT,
        offer=OFFER_CONTINUE,
        shown=ANSWER,
        status=ReplyStatus.CUT,
    ),
    Fault(
        name="no-finish-chunked-clean-end",
        replies=(Reply(text=ANSWER, finish_reason=None, done=False),),
        ended=CUT,
        offer=OFFER_CONTINUE,
        shown=ANSWER,
        status=ReplyStatus.CUT,
    ),
    Fault(
        name="no-finish-then-done",
        replies=(Reply(text=ANSWER, finish_reason=None),),
        ended=CUT,
        offer=OFFER_CONTINUE,
        shown=ANSWER,
        status=ReplyStatus.CUT,
    ),
    Fault(
        name="stop-without-done",
        replies=(Reply(text=ANSWER, done=False, framing="close"),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="llama-cpp-error-line-mid-reply",
        replies=(Reply(text=ANSWER, error_line=LLAMA_ERROR),),
        error=r"the stream failed: llama_decode failed: no KV slot",
        shown=ANSWER,
        status=ReplyStatus.FAILED,
    ),
    Fault(
        name="llama-cpp-error-line-before-text",
        replies=_times(Reply(text="", error_line=LLAMA_ERROR), ATTEMPTS + 1),
        error=r"the server reported an error: llama_decode failed: no KV slot",
        requests=ATTEMPTS + 1,
        backoff=ATTEMPTS,
    ),
    Fault(
        name="empty-stream",
        replies=(Reply(raw_body="", content_type="text/event-stream"),),
        ended=r"the reply is empty: the server sent no text",
        status=ReplyStatus.EMPTY,
    ),
    Fault(
        name="empty-reply-with-stop",
        replies=(Reply(text=""),),
        ended=r"the reply is empty: the server sent no text",
        status=ReplyStatus.EMPTY,
    ),
    Fault(
        name="html-page-base-url-missing-v1",
        endpoint="no-v1-webapp",
        error=r"the server at {url} answered with a web page \(Chat UI\), not the API; "
        r"is the base URL missing `/v1`\?",
        requests=0,
    ),
    Fault(
        name="html-page-captive-portal",
        replies=(Reply(raw_body=PORTAL),),
        error=r"the server at {url} answered with a web page \(Sign in to Wi-Fi\), not the API; "
        r"check the base URL",
    ),
    Fault(
        name="json-error-status-200",
        replies=_times(
            Reply(
                raw_body='{"error":{"message":"upstream timed out","type":"proxy_error"}}',
                content_type="application/json",
            ),
            ATTEMPTS + 1,
        ),
        error=r"the server reported an error: upstream timed out",
        requests=ATTEMPTS + 1,
        backoff=ATTEMPTS,
    ),
    Fault(
        name="sse-labelled-application-json",
        replies=(Reply(text=ANSWER, content_type="application/json"),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="sse-labelled-text-plain",
        replies=(Reply(text=ANSWER, content_type="text/plain; charset=utf-8"),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="tool-calls-only",
        replies=(Reply(text="", tool_calls=("get_weather",), finish_reason="tool_calls"),),
        ended=r"the model asked to call a tool this chat does not offer: get_weather",
        status=ReplyStatus.TOOL_CALLS,
    ),
    Fault(
        name="text-then-tool-calls",
        replies=(
            Reply(text=ANSWER, tool_calls=("get_weather", "search"), finish_reason="tool_calls"),
        ),
        ended=r"the model asked to call tools this chat does not offer: get_weather, search",
        shown=ANSWER,
        status=ReplyStatus.TOOL_CALLS,
    ),
    Fault(
        name="finish-reason-abort",
        replies=(Reply(text=ANSWER, finish_reason="abort"),),
        ended=r"the server ended the reply early \(finish_reason 'abort'\)",
        offer=OFFER_CONTINUE,
        shown=ANSWER,
        status=ReplyStatus.ABNORMAL,
    ),
    Fault(
        name="finish-reason-error",
        replies=(Reply(text=ANSWER, finish_reason="error"),),
        ended=r"the server ended the reply early \(finish_reason 'error'\)",
        offer=OFFER_CONTINUE,
        shown=ANSWER,
        status=ReplyStatus.ABNORMAL,
    ),
    Fault(
        name="finish-reason-unknown",
        replies=(Reply(text=ANSWER, finish_reason="recitation"),),
        ended=r"the server ended the reply early \(finish_reason 'recitation'\)",
        offer=OFFER_CONTINUE,
        shown=ANSWER,
        status=ReplyStatus.ABNORMAL,
    ),
    Fault(
        name="list-content",
        replies=(Reply(text=ANSWER, list_content=True),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="several-choices",
        replies=(Reply(text=ANSWER, extra_choice="A SECOND ANSWER NOBODY ASKED FOR"),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="only-choice-has-index-1",
        replies=(Reply(text=ANSWER, choice_index=1),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="non-streaming-list-content-several-choices",
        replies=(
            Reply(text=ANSWER, ignore_stream=True, list_content=True, extra_choice="NOT THIS"),
        ),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="redirect-301",
        replies=(Reply(redirect_to="/api/v1"),),
        error=r"the server redirected to {root}/api/v1; set that as the base URL",
    ),
    Fault(
        name="endpoint-as-base-url",
        endpoint="endpoint-url",
        error=r"the base URL {url} is the chat endpoint itself; set the base URL to {api}",
        requests=0,
    ),
    Fault(
        name="ollama-404-base-url-missing-v1",
        endpoint="no-v1-ollama",
        error=r"no chat API at {url}/chat/completions: the server answered 404 "
        r"\(404 page not found\); is the base URL missing `/v1`\?",
        requests=0,
    ),
    Fault(
        name="openai-invalid-url-base-url-missing-v1",
        endpoint="no-v1-openai",
        error=r"no chat API at {url}/chat/completions: the server answered 404 "
        r"\(Invalid URL \(POST /chat/completions\)\); is the base URL missing `/v1`\?",
        requests=0,
    ),
    Fault(
        name="http-404-plain-text-model-listed",
        replies=(Reply(status=404, raw_body="404 page not found", content_type="text/plain"),),
        error=r"no chat API at {url}/chat/completions: the server answered 404 "
        r"\(404 page not found\); check the base URL",
    ),
    # --- issue 23: answers in other shapes, limits honoured and said ---
    *[
        Fault(
            name=f"finish-reason-{finish}",
            replies=(Reply(text=ANSWER, finish_reason=finish),),
            shown=ANSWER,
            status=ReplyStatus.COMPLETE,
        )
        for finish in ("eos", "eos_token", "end_turn")
    ],
    Fault(
        name="whole-message-in-each-chunk",
        replies=(Reply(text=ANSWER, message_chunks=True),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="role-at-index-0-text-at-index-1",
        replies=(Reply(text=ANSWER, text_index=1),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="refusal",
        replies=(Reply(text="", refusal=REFUSAL),),
        ended=r"the model refused to answer \(the server marked the reply as a refusal\)",
        shown=REFUSAL,
        status=ReplyStatus.REFUSED,
    ),
    Fault(
        name="non-streaming-refusal",
        replies=(Reply(text="", refusal=REFUSAL, ignore_stream=True),),
        ended=r"the model refused to answer \(the server marked the reply as a refusal\)",
        shown=REFUSAL,
        status=ReplyStatus.REFUSED,
    ),
    Fault(
        name="mistral-thinking-part",
        replies=(Reply(text=ANSWER, thinking_parts="The user wants the answer."),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="invalid-utf8-mid-reply",
        replies=(Reply(text=ANSWER, bad_utf8=True),),
        warning="2 bytes of the reply were not valid UTF-8 and show as \ufffd",
        shown="\ufffd\ufffd" + ANSWER,
        status=ReplyStatus.COMPLETE,
        cached=False,
    ),
    Fault(
        name="ndjson-stream",
        replies=(Reply(text=ANSWER, ndjson=True),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="gzip-stream",
        replies=(Reply(text=ANSWER, encoding="gzip"),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="gzip-label-on-a-plain-stream",
        replies=(Reply(text=ANSWER, encoding="gzip-label"),),
        shown=ANSWER,
        status=ReplyStatus.COMPLETE,
    ),
    Fault(
        name="gzip-stream-damaged",
        replies=(Reply(text=ANSWER, encoding="gzip-broken"),),
        error=r"the reply from {url} is labelled gzip-compressed but does not decompress "
        r"\(.+\); a proxy in between may be damaging it",
    ),
    Fault(
        name="closed-after-the-request",
        replies=_times(Reply(hang_up=True), ATTEMPTS + 1),
        error=r"the server at {url} closed the connection without answering "
        r"\(it took the request, then hung up\)",
        requests=ATTEMPTS + 1,
        backoff=ATTEMPTS,
    ),
    Fault(
        name="http-429-retry-after-http-date",
        replies=_times(Reply(status=429, retry_after_date=2.0), ATTEMPTS + 1),
        error=rf"rate limited by {{url}}; the server asks to wait 2s \({re.escape(RATE_LIMIT)}\)",
        requests=ATTEMPTS + 1,
        waits=(2.0,) * ATTEMPTS,
    ),
    Fault(
        name="http-429-ratelimit-reset-tokens",
        replies=_times(
            Reply(
                status=429,
                headers={
                    "x-ratelimit-remaining-requests": "59",
                    "x-ratelimit-reset-requests": "1s",
                    "x-ratelimit-remaining-tokens": "0",
                    "x-ratelimit-reset-tokens": "6ms",
                },
            ),
            ATTEMPTS + 1,
        ),
        error=rf"rate limited by {{url}}; the limit resets in 6ms \({re.escape(RATE_LIMIT)}\)",
        requests=ATTEMPTS + 1,
        waits=(0.006,) * ATTEMPTS,
    ),
    Fault(
        name="http-429-ratelimit-reset-beyond-max-wait",
        replies=(
            Reply(
                status=429,
                headers={
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": "1m30s",
                },
            ),
        ),
        error=rf"rate limited by {{url}}; the limit resets in 1m30s \({re.escape(RATE_LIMIT)}\) "
        r"— longer than --max-wait 5s, so not waiting",
    ),
    Fault(
        name="http-403-cdn-challenge-page",
        replies=(Reply(status=403, raw_body=CHALLENGE),),
        error=r"the server at {url} answered 403 with a web page \(Just a moment\.\.\.\), not "
        r"the API: something in front of it \(a CDN, proxy or firewall\) stopped the request",
    ),
]


def _pattern(line: str, target: Endpoint) -> str:
    """A row's line as a regex for this endpoint: ``{url}``, ``{api}``, ``{root}``."""
    return line.format(
        url=re.escape(target.shown_url),
        api=re.escape(target.api_url),
        root=re.escape(target.root),
    )


def expected_cache(fault: Fault) -> list[str]:
    """The cache after the faulty turn: the history's answers, and its own if complete."""
    answers = [echo(history_turn(n)) for n in range(fault.history)]
    complete = fault.status is ReplyStatus.COMPLETE and fault.cached
    return answers + ([fault.shown] if complete else [])


def check_cache(store_path: Path, held: Transcript) -> None:
    """The response cache holds complete replies only, and never an empty one."""
    complete = {content for role, content, status in held if status == "complete" and content}
    for reply in cached_replies(store_path):
        assert reply in complete


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
        endpoint(fault.endpoint, password=True) as target,
        repl_harness(
            base_url=target.base_url, home=tmp_path, flags={"cache": True, **fault.flags}
        ) as repl,
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
            assert re.fullmatch("error: " + _pattern(fault.error, target), error)
            assert hint == RETRY_HINT
        elif fault.ended is not None:
            (line,) = step.notices
            pattern = "error: " + _pattern(fault.ended, target) + "; " + re.escape(fault.offer)
            assert re.fullmatch(pattern, line)
        elif fault.warning is not None:
            (warning,) = step.notices
            assert re.fullmatch(fault.warning, warning)
        else:
            assert step.notices == []
        assert step.shown == [fault.shown]
        assert repl.held == repl.stored == history + fault.kept
        assert cached_replies(repl.store_path) == expected_cache(fault)
        assert target.requests - before == fault.requests
        check_waits(fault, repl.time.slept)
        if fault.history and fault.requests == 2:
            assert target.server is not None
            first, second = (r.body["messages"] for r in target.server.chat_requests[-2:])
            assert len(second) < len(first)  # trimmed harder before asking again
            assert second[-1]["content"] == QUESTION

        if fault.error is not None or fault.ended is not None:
            if not target.revive():
                # Nothing can reach a name that does not resolve, nor a wrong base URL:
                # /retry says so again.
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
        assert target.server is not None
        for message in target.server.chat_requests[-1].body["messages"]:
            # An empty reply is recorded, never sent back as an answer.
            assert message["role"] != "assistant" or message["content"]
        check_cache(repl.store_path, repl.held)


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
    with endpoint(fault.endpoint, password=True) as target:
        environ = environment(tmp_path, base_url=target.base_url)
        for n in range(fault.history):
            warm = run_one_shot(
                ["--raw", "--cache", *(["-c"] if n else []), history_turn(n)], environ=environ
            )
            assert warm.code == 0
        if target.server is not None:
            target.server.enqueue(*fault.replies)
        before = target.requests
        argv = ["--raw", "--cache", "--retries", str(ATTEMPTS), "--max-wait", "5"]
        result = run_one_shot(
            [*argv, *_flag_args(fault.flags), *(["-c"] if fault.history else []), QUESTION],
            environ=environ,
        )

        assert_nothing_leaked(result.stdout, result.stderr)
        if fault.error is not None or fault.ended is not None:
            assert result.code == 1
            (line,) = result.said
            pattern = "chatbot: " + _pattern(fault.error or fault.ended or "", target)
            assert re.fullmatch(pattern, line)
        else:
            assert result.code == 0
            if fault.warning is not None:
                (warning,) = result.said
                assert re.fullmatch(f"chatbot: {fault.warning}", warning)
            else:
                assert result.said == []
        # stdout holds only the text that really arrived; every message went to stderr.
        assert result.stdout == (fault.shown + "\n" if fault.shown else "")
        assert stored_one_shot(tmp_path) == history_transcript(fault.history) + fault.kept
        store = tmp_path / "data" / "conversations.sqlite3"
        assert cached_replies(store) == expected_cache(fault)
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
