"""The installed command's one-shot lines in Japanese: a user's mistakes in settings,
an empty question and ``--usage`` are said in Japanese, while stdout and the exit code
stay what scripts read."""

from __future__ import annotations

import os

import pytest

from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import run_chatbot
from tests.support.japanese import english_words, japanese_env


def _japanese() -> dict[str, str]:
    return japanese_env(dict(os.environ))


@pytest.mark.parametrize(
    ("args", "extra", "expected"),
    [
        (("質問",), {"CHATBOT_THINK": "sometimes"}, "CHATBOT_THINK: show"),
        (("質問",), {"CHATBOT_TIMEOUT": "soon"}, "CHATBOT_TIMEOUT: "),
        (("--base-url", "ftp://example.invalid", "質問"), {}, "ベース URL は http://"),
        (("",), {}, "質問が空です"),
    ],
    ids=["think-word", "timeout-word", "base-url-scheme", "empty-question"],
)
def test_a_settings_mistake_is_one_japanese_line(
    server: FakeOpenAIServer, args: tuple[str, ...], extra: dict[str, str], expected: str
) -> None:
    result = run_chatbot(*args, server=server, env=_japanese(), extra_env=extra)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().split("\n")
    assert line.startswith("chatbot: ") and expected in line, line
    # What stays English is what the user typed and the variable's own name.
    said = line.removeprefix("chatbot: ")
    for word in ("CHATBOT_THINK", "CHATBOT_TIMEOUT", "sometimes", "soon", "ftp://example.invalid"):
        said = said.replace(word, "")
    assert english_words(said) == [], line
    assert server.requests == []


def test_usage_is_said_in_japanese_and_the_answer_is_unchanged(server: FakeOpenAIServer) -> None:
    server.enqueue(Reply(text="答えです"))
    result = run_chatbot("--usage", "質問", server=server, env=_japanese())
    assert result.returncode == 0 and result.stdout == "答えです\n"
    assert result.stderr.startswith("使用量: "), result.stderr
