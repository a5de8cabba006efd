"""The Japanese interface end to end: the installed ``chatbot`` under ``LANG=ja_JP.UTF-8``.

A person with a Japanese locale sees the program speak Japanese (its own lines carry
no English left over), and everything fitted to the terminal (the toolbar, the help,
``/sessions`` and ``chatbot sessions`` with Japanese titles) fits at 60 and 100
columns, in cells, never cutting a character and never misaligning a column.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator

import pytest

from tests.support.fakeserver import FakeOpenAIServer, FakeToolCall, Reply
from tests.support.helpers import run_chatbot
from tests.support.japanese import cells, english_words, japanese_env, program_lines
from tests.support.terminal import TOOLBAR_JA, Terminal, strip_ansi, terminal_env

#: The four columns before the title in a /sessions row.
ROW = re.compile(r"\s*\S+\s+\S+\s+\S+\s+\S+\s+")
QUESTION = r"実行しますか\? \[y/N\]"
#: Long Japanese questions: their titles are cut to 60 cells in the store.
QUESTIONS = (
    "東京で週末に家族と行ける、雨の日でも楽しめる屋内の観光スポットを十か所教えてください",
    "パソコンの動作が急に遅くなった原因として考えられることと、初心者にもできる対処法は?",
    "短い質問",
)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def open_japanese(
    terminals: list[Terminal], server: FakeOpenAIServer, *args: str, columns: int = 100
) -> Terminal:
    terminal = Terminal(
        *args, env=japanese_env(terminal_env(server)), columns=columns, toolbar=TOOLBAR_JA
    )
    terminals.append(terminal)
    return terminal


def assert_fits(line: str, columns: int) -> None:
    assert cells(line) >= 0, f"a control character in {line!r}"
    assert cells(line) <= columns, f"{cells(line)} cells, wider than {columns}: {line!r}"


@pytest.mark.parametrize("columns", [60, 100])
def test_a_first_chat_and_help_in_japanese(
    server: FakeOpenAIServer, terminals: list[Terminal], columns: int
) -> None:
    terminal = open_japanese(terminals, server, "--model", "pty-model", columns=columns)
    toolbar = terminal.wait_for_prompt().strip()
    assert "コンテキスト" in toolbar and "累計 0 トークン" in toolbar
    assert_fits(toolbar, columns)
    assert "こんにちは!何をお手伝いしましょうか?" in strip_ansi(terminal.output)

    server.enqueue(Reply(text="こんにちは!今日の東京は**晴れ**です。"))
    terminal.send_line("今日の天気は?")
    terminal.expect("晴れ")
    terminal.wait_for_prompt()

    start = len(terminal.output)
    terminal.send_line("/help")
    terminal.expect("キー操作")
    terminal.wait_for_prompt()
    shown = program_lines(terminal.output[start:], exclude=("/help",))
    assert any(line.startswith("/retry") and "作り直します" in line for line in shown)
    for line in shown:
        assert english_words(line) == [], line
        assert_fits(line, columns)
    terminal.send_line("/exit")
    assert terminal.exit_status() == 0
    assert "\ufffd" not in terminal.output


def test_tool_approval_in_japanese_takes_hai_and_iie(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    def shell(command: str) -> FakeToolCall:
        return FakeToolCall("shell", json.dumps({"command": command}))

    terminal = open_japanese(terminals, server, "--persona", "it-support")
    terminal.wait_for_prompt()
    assert "ITサポートです。どうされましたか?" in strip_ansi(terminal.output)
    server.enqueue(
        Reply(text="", tool_calls=[shell("echo pty-ok")]), Reply(text="確認できました。")
    )
    terminal.send_line("ネットワークを調べて")
    asked = terminal.expect(QUESTION)
    assert "shell が次のコマンドを実行しようとしています:" in asked and "echo pty-ok" in asked
    terminal.send_line("はい")
    ran = terminal.expect("確認できました")
    assert "#1 shell echo pty-ok" in ran and "秒" in ran
    terminal.wait_for_prompt()

    server.enqueue(Reply(text="", tool_calls=[shell("echo again")]), Reply(text="了解です。"))
    terminal.send_line("もう一度")
    terminal.expect(QUESTION)
    terminal.send_line("いいえ")
    assert "実行しませんでした" in terminal.expect("了解です")
    terminal.wait_for_prompt()

    # A full-width y, typed with the input method still on, is a yes too.
    server.enqueue(Reply(text="", tool_calls=[shell("echo wide")]), Reply(text="できました。"))
    terminal.send_line("全角で")
    terminal.expect(QUESTION)
    terminal.send_line("ｙ")
    terminal.expect("できました")
    terminal.wait_for_prompt()
    terminal.send_line("/exit")
    assert terminal.exit_status() == 0
    own = program_lines(
        terminal.output,
        exclude=("確認できました", "了解です", "できました", "echo ", "ネットワーク", "もう一度"),
    )
    for line in own:
        assert english_words(line) == [], line
    requests = [r.body["messages"][-1]["content"] for r in server.chat_requests]
    assert "pty-ok" in requests[1] and "declined" in requests[3] and "wide" in requests[5]


def _seed_conversations(server: FakeOpenAIServer) -> None:
    for question in QUESTIONS:
        server.enqueue(Reply(text="はい、お答えします。"))
        assert run_chatbot(question, server=server).returncode == 0


def _title_column(lines: list[str], header: str) -> tuple[int, list[str]]:
    """The cell offset where the title column starts, and the rows below the header."""
    index = next(i for i, line in enumerate(lines) if header in line)
    head = lines[index]
    return cells(head[: head.index(header)]), lines[index + 1 :]


def test_sessions_with_japanese_titles_at_60_columns(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    _seed_conversations(server)
    terminal = open_japanese(terminals, server, columns=60)
    assert_fits(terminal.wait_for_prompt().strip(), 60)
    start = len(terminal.output)
    terminal.send_line("/sessions")
    terminal.expect("無題|短い質問")
    terminal.wait_for_prompt()
    lines = [
        line.rstrip()
        for line in strip_ansi(terminal.output[start:]).split("\n")
        if line.strip() and "/sessions" not in line and not TOOLBAR_JA.search(line)
    ]
    offset, rows = _title_column(lines, "タイトル")
    assert offset > 0
    text = "".join(QUESTIONS)
    seen_titles = ""
    for line in rows:
        if line.lstrip().startswith("›"):
            break
        assert_fits(line, 60)
        # Every row's title (and every wrapped piece of one) starts in the title column.
        columns = ROW.match(line) if line.lstrip()[:1].isdigit() else None
        # A row: id, when, persona, turns, then the title; else a title's wrapped part.
        end = columns.end() if columns else len(line) - len(line.lstrip())
        prefix, title = line[:end], line[end:].strip()
        assert cells(prefix) == offset, f"misaligned: {line!r}"
        # Cut to the terminal with "…" (rich pads the cell a wide character left empty).
        title = title.rstrip("…").rstrip()
        seen_titles += title
        for piece in title:
            assert piece in text, f"{piece!r} is not from a title: {line!r}"
    assert "東京で週末に家族と" in seen_titles and "短い質問" in seen_titles
    header = next(line for line in lines if "タイトル" in line)
    assert english_words(header) == [], header
    assert "\ufffd" not in terminal.output


@pytest.mark.parametrize("columns", [60, 100])
def test_chatbot_sessions_lines_up_japanese_titles(
    server: FakeOpenAIServer, terminals: list[Terminal], columns: int
) -> None:
    _seed_conversations(server)
    terminal = open_japanese(terminals, server, "sessions", columns=columns)
    assert terminal.exit_status() == 0
    lines = [line for line in strip_ansi(terminal.output).split("\n") if line.strip()]
    assert len(lines) == len(QUESTIONS)
    starts = set()
    for line, question in zip(lines, reversed(QUESTIONS), strict=True):
        assert_fits(line, columns)
        title_at = min(
            (line.index(question[:n]) for n in (4, 2) if question[:n] in line), default=-1
        )
        assert title_at > 0, line
        starts.add(cells(line[:title_at]))
        shown = line[title_at:]
        assert shown == question or (shown.endswith("…") and question.startswith(shown[:-1]))
        assert "分前" in line or "たった今" in line
    assert len(starts) == 1, f"titles start in different columns: {lines}"


def test_help_and_usage_errors_are_japanese_and_wrapped_by_cells(
    terminals: list[Terminal],
) -> None:
    terminal = Terminal("--help", env=japanese_env(terminal_env(None)), columns=60)
    terminals.append(terminal)
    assert terminal.exit_status() == 0
    lines = strip_ansi(terminal.output).split("\n")
    assert lines[0].startswith("使い方: chatbot")
    body = lines[lines.index("位置引数:") :]
    allowed = frozenset(
        [
            "OpenAI",
            "chatbot",
            "sessions",
            "export",
            "import",
            "pull",
            "models",
            "question",
            "pip",
            "install",
            "local",
            "Hugging",
            "Face",
            "Hub",
            "max_rounds",
            "tools",
            "stdout",
            "stderr",
            "drop",
            "summarize",
            "bash",
            "zsh",
            "fish",
            "WebP",
            "Qwen",
            "Retry-After",
            "knowledge",
            "add",
            "list",
            "update",
            "remove",
            "search",
        ]
    )
    for line in body:
        assert_fits(line, 60)
        assert not line.strip().startswith(("、", "。", ")")), f"a line starts badly: {line!r}"
        assert english_words(line, also=allowed) == [], line
    result = run_chatbot("--temperature", "3", env=japanese_env(dict(os.environ)))
    assert result.returncode == 2
    assert "chatbot: エラー: 引数 -t/--temperature: 0〜2 の数値で指定してください" in result.stderr


def _without_server_words(line: str, server_words: str) -> str:
    """``line`` without the server's own message, which the program quotes as it is."""
    return line.replace(server_words, "")


def test_a_wrong_key_is_one_japanese_line_in_the_chat_and_in_one_shot(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    said = "Incorrect API key provided."
    server.enqueue(Reply(status=401, error_body={"error": {"message": said}}))
    terminal = open_japanese(terminals, server, columns=60)
    terminal.wait_for_prompt()
    start = len(terminal.output)
    terminal.send_line("こんにちは")
    seen = terminal.expect("送り直せます")
    terminal.wait_for_prompt()
    flat = "".join(seen.split())
    assert "サーバーがAPIキーを拒否しました(401)。OPENAI_API_KEYを確認してください" in flat
    lines = program_lines(terminal.output[start:], exclude=("こんにちは",))
    for line in lines:
        assert_fits(line, 60)
    # The error line folds at the terminal's width; the server's words may span lines.
    joined = " ".join(" ".join(lines).split())
    assert english_words(_without_server_words(joined, said)) == [], joined
    terminal.send_line("/exit")
    assert terminal.exit_status() == 0

    server.enqueue(Reply(status=401, error_body={"error": {"message": said}}))
    result = run_chatbot("質問です", server=server, env=japanese_env(dict(os.environ)))
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().split("\n")
    assert line.startswith("chatbot: サーバーが API キーを拒否しました(401)")
    assert english_words(_without_server_words(line, said).removeprefix("chatbot:")) == [], line


def test_a_cut_reply_in_japanese_is_marked_and_retried(
    server: FakeOpenAIServer, terminals: list[Terminal]
) -> None:
    server.enqueue(
        Reply(text="ポートを調べるには", finish_reason=None, done=False, framing="close"),
        Reply(text="ss -tlnp を実行します。"),
    )
    terminal = open_japanese(terminals, server, columns=60)
    terminal.wait_for_prompt()
    start = len(terminal.output)
    terminal.send_line("開いているポートを調べたい")
    seen = terminal.expect("聞き直せます")
    terminal.wait_for_prompt()
    flat = "".join(seen.split())
    assert "応答が途切れました。" in flat and "/continueで続きを頼めます" in flat
    for line in program_lines(
        terminal.output[start:], exclude=("ポートを調べるには", "開いているポート")
    ):
        assert english_words(line) == [], line
        assert_fits(line, 60)
    terminal.send_line("/retry")
    terminal.expect("を実行します")
    terminal.wait_for_prompt()
    terminal.send_line("/exit")
    assert terminal.exit_status() == 0
    assert "\ufffd" not in terminal.output
