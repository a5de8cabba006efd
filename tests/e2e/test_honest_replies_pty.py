"""Issue 11 end to end: the installed ``chatbot`` never passes off a cut reply as an answer.

A proxy that closes a close-delimited body mid-reply is the worst case: the bytes end
cleanly, so only the missing ``finish_reason`` tells. The REPL runs in a real terminal;
one-shot runs as a real process with pipes, as a script would.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pexpect

from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import chatbot_executable, run_chatbot
from tests.support.terminal import Terminal, strip_ansi, terminal_env

ANSWER = "To list open ports run: ss -tlnp"
CUT_AT = "To list open ports run:"
PASSWORD = "pw-e2e-Hx7Rq2"
CUT_LINE = "the reply was cut: the stream ended before the server said it was finished"


def cut_reply() -> Reply:
    """What a proxy's idle timeout leaves: some text, no finish, the socket closed."""
    return Reply(text=CUT_AT, finish_reason=None, done=False, framing="close")


def with_password(base_url: str) -> str:
    return base_url.replace("http://", f"http://bob:{PASSWORD}@", 1)


def statuses(home: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(home / "data" / "conversations.sqlite3") as conn:
        rows = conn.execute("SELECT role, content, status FROM messages ORDER BY id").fetchall()
    return [(str(r), str(c), str(s)) for r, c, s in rows]


def test_a_cut_reply_in_a_real_terminal_is_marked_and_retried(
    server: FakeOpenAIServer, isolated_environment: Path
) -> None:
    env = terminal_env(None, OPENAI_BASE_URL=with_password(server.base_url))
    server.enqueue(cut_reply(), Reply(text=ANSWER))
    with Terminal("--cache", env=env) as terminal:
        terminal.wait_for_prompt()
        terminal.send_line("how do I list open ports?")
        seen = terminal.expect("/retry asks again")
        assert CUT_AT in seen
        assert f"error: {CUT_LINE}; /continue asks for the rest, /retry asks again" in " ".join(
            seen.split()
        )
        terminal.wait_for_prompt()
        terminal.send_line("/retry")
        terminal.expect("ss -tlnp")
        terminal.wait_for_prompt()
        terminal.child.sendeof()
        assert terminal.exit_status() == 0
        shown = strip_ansi(terminal.output)
    assert "Traceback" not in shown
    assert PASSWORD not in shown
    assert statuses(isolated_environment) == [
        ("user", "how do I list open ports?", "complete"),
        ("assistant", ANSWER, "complete"),
    ]


def test_a_cut_reply_in_one_shot_exits_1_with_only_the_text_on_stdout(
    server: FakeOpenAIServer, isolated_environment: Path
) -> None:
    server.enqueue(cut_reply())
    extra = {"OPENAI_BASE_URL": with_password(server.base_url)}
    result = run_chatbot("--cache", "how do I list open ports?", extra_env=extra)
    assert result.returncode == 1
    assert result.stdout == CUT_AT + "\n"
    assert result.stderr == f"chatbot: {CUT_LINE}\n"
    assert statuses(isolated_environment)[-1] == ("assistant", CUT_AT, "cut")

    # The same question again is asked again: a cut reply is never served from the cache.
    result = run_chatbot("--cache", "how do I list open ports?", extra_env=extra)
    assert result.returncode == 0
    assert result.stdout.startswith("You said:")
    assert len(server.chat_requests) == 2
    assert PASSWORD not in result.stdout + result.stderr


def test_a_long_error_line_folds_between_words_in_a_narrow_terminal(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Issue 23: the terminal would cut words in two at its width; the line is folded."""
    page = "<html><head><title>Just a moment...</title></head><body>checking</body></html>"
    server.enqueue(Reply(status=403, raw_body=page))
    child = pexpect.spawn(
        chatbot_executable(),
        ["--raw", "hello"],
        env=terminal_env(server, OPENAI_API_KEY="sk-test-not-a-real-key-0000"),
        dimensions=(30, 50),
        encoding="utf-8",
        timeout=20,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    lines = [line for line in strip_ansi(child.before).splitlines() if line.strip()]
    assert len(lines) > 2 and all(len(line) <= 50 for line in lines), lines
    joined = " ".join(line.strip() for line in lines)
    assert joined.startswith("chatbot: the server at ")
    assert "answered 403 with a web page (Just a moment...), not the API" in joined
