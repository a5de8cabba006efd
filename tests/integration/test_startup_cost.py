"""What the real command's start costs: nothing it never runs is imported."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.support.fakeserver import FakeOpenAIServer, Reply

_PROBE = (
    "import sys\n"
    "sys.argv = ['chatbot', 'hi']\n"
    "from chatbot.cli.main import main\n"
    "code = main()\n"
    "loaded = sys.modules.get('trio') is not None\n"
    "print(code, 'openai' in sys.modules, loaded)\n"
)


@pytest.mark.skipif(importlib.util.find_spec("trio") is None, reason="trio is not installed")
def test_a_one_shot_answer_never_loads_trio_even_where_it_is_installed(
    server: FakeOpenAIServer,
) -> None:
    # The HTTP stack imports trio at its own import when it can (0.15-0.25 s);
    # the command never runs trio, so it must not pay for it.
    server.enqueue(Reply(text="hello"))
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "CHATBOT_LOCAL": "0"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "0 True False", done.stderr
