"""Usage and cost: /usage, the toolbar, ``--usage``, and prices from config.toml."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

from chatbot.api.client import ChatClient
from chatbot.cli import main
from chatbot.conversation.messages import Message, Role
from chatbot.conversation.session import ChatSession
from chatbot.errors import ConfigError, MessageTooLarge
from chatbot.repl.commands.builtins import builtin_commands, usage_lines
from chatbot.repl.commands.registry import CommandContext
from chatbot.repl.notices import Notices
from chatbot.repl.toolbar import toolbar_text
from chatbot.servers.server import FixedServer
from chatbot.settings.catalogue import Price, format_dollars, price_for
from chatbot.settings.personas import load_personas
from chatbot.settings.user_config import load_user_config
from chatbot.store.database import Store
from chatbot.store.store_journal import StoreJournal
from tests.support.fakeserver import FakeOpenAIServer, Reply
from tests.support.helpers import RecordingRenderer, make_config, make_session

REPO = Path(__file__).resolve().parents[2]
#: Deliberately unlike any real price, so a match cannot come from the built-in table.
USER_PRICE = Price(1000.0, 2000.0)


def cells(line: str) -> list[str]:
    """The columns of one aligned /usage line."""
    return re.split(r"\s{2,}", line.strip())


def row(lines: list[str], label: str) -> list[str]:
    found = [cells(line) for line in lines if line.startswith(label)]
    assert len(found) == 1, lines
    return found[0]


def ask(session: ChatSession, server: FakeOpenAIServer, reply: Reply, text: str = "hi") -> None:
    server.enqueue(reply)
    session.send(text, renderer=RecordingRenderer())


def with_prices(session: ChatSession, prices: dict[str, Price]) -> ChatSession:
    session.config = replace(session.config, prices=prices)
    return session


def write_config(text: str) -> Path:
    # The autouse fixture points CHATBOT_CONFIG_DIR at a folder of this test's own.
    path = Path(os.environ["CHATBOT_CONFIG_DIR"]) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- config.toml ---------------------------------------------------------------


def test_config_file_extends_the_model_tables(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[prices."My-Model"]\ninput = 0.5\noutput = 2\n\n'
        '[prices."gpt-4o-mini"]\ninput = 0\noutput = 0\n\n'
        '[context_windows]\n"my-model" = 32768\n"vendor/other" = 4096\n',
        encoding="utf-8",
    )
    loaded = load_user_config(path)
    assert price_for("my-model-7b", overrides=loaded.prices) == Price(0.5, 2.0)
    # The user's table wins over the built-in one, even to make a model free.
    assert price_for("gpt-4o-mini", overrides=loaded.prices) == Price(0.0, 0.0)
    assert price_for("gpt-4o", overrides=loaded.prices) == price_for("gpt-4o")
    config = replace(make_config("http://x"), context_windows=loaded.context_windows)
    persona = load_personas().get("default")
    assert config.with_model("my-model:q4").params_for(persona).context_window == 32768
    assert config.with_model("other-1").params_for(persona).context_window == 4096


def test_missing_config_file_is_fine(tmp_path: Path) -> None:
    loaded = load_user_config(tmp_path / "nowhere" / "config.toml")
    assert (dict(loaded.prices), dict(loaded.context_windows)) == ({}, {})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[prices."m"]\ninput = 1\noutput = 2\n[prices\n', "invalid TOML at line 4"),
        ("currency = 'EUR'\n", "unknown key 'currency'"),
        ("prices = 3\n", "'prices' must be a table"),
        ('[prices]\n"m" = 0.5\n', "prices for 'm' must be a table"),
        ('[prices."m"]\ninput = 1\noutput = 2\ncached = 0.1\n', "unknown key 'cached'"),
        ('[prices."m"]\ninput = 1\n', "missing 'output'"),
        ('[prices."m"]\ninput = -0.1\noutput = 2\n', "'input' must be a number"),
        ('[prices."m"]\ninput = "1"\noutput = 2\n', "'input' must be a number"),
        ('[prices."m"]\ninput = 1\noutput = true\n', "'output' must be a number"),
        ('[prices."m"]\ninput = 1\noutput = nan\n', "'output' must be a number"),
        ('[context_windows]\n"m" = 0\n', "positive whole number"),
        ('[context_windows]\n"m" = 1.5\n', "positive whole number"),
        ('[context_windows]\n"m" = """a\nlong\nstring"""\n', "positive whole number"),
        ('[context_windows]\n"" = 100\n', "empty model name"),
    ],
)
def test_bad_config_file_is_one_line_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_user_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message


def test_config_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[prices]\n\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_user_config(path)


# -- /usage and the toolbar ----------------------------------------------------


def test_usage_shows_reported_tokens_and_cost_with_the_users_prices(
    server: FakeOpenAIServer,
) -> None:
    session = with_prices(make_session(server.base_url, model="fake-model"), {"fake": USER_PRICE})
    ask(session, server, Reply(text="one", prompt_tokens=100, completion_tokens=10))
    ask(session, server, Reply(text="two", prompt_tokens=250, completion_tokens=20))

    lines = usage_lines(session, now=datetime.now())

    cost = USER_PRICE.cost(prompt_tokens=350, completion_tokens=30)
    assert row(lines, "this session") == [
        "this session",
        "fake-model",
        "350",
        "30",
        format_dollars(cost),
    ]
    window = session.params.context_window
    assert f"context: 250 of {window:,} tokens in the last request" in lines[-1]
    assert not any("~" in line for line in lines)


def test_models_without_a_price_say_so_and_the_toolbar_shows_no_cost(
    server: FakeOpenAIServer,
) -> None:
    session = make_session(server.base_url, model="fake-model")
    ask(session, server, Reply(text="ok", prompt_tokens=40, completion_tokens=4))

    assert row(usage_lines(session, now=datetime.now()), "this session")[-1] == "no price known"
    toolbar = toolbar_text(session)
    assert "session 44 tokens" in toolbar
    assert "$" not in toolbar


def test_toolbar_is_one_line_with_the_cost_when_a_price_is_known(
    server: FakeOpenAIServer,
) -> None:
    session = make_session(server.base_url)  # gpt-4o-mini: in the built-in table
    ask(session, server, Reply(text="ok", prompt_tokens=4000, completion_tokens=1000))
    price = price_for("gpt-4o-mini")
    assert price is not None
    toolbar = toolbar_text(session)
    assert "\n" not in toolbar
    expected = format_dollars(price.cost(prompt_tokens=4000, completion_tokens=1000))
    assert toolbar.endswith(f"│ {expected}")

    with_prices(session, {"gpt-4o-mini": USER_PRICE})
    expected = format_dollars(USER_PRICE.cost(prompt_tokens=4000, completion_tokens=1000))
    assert toolbar_text(session).endswith(f"│ {expected}")


def test_usage_the_server_did_not_report_is_estimated_and_marked(
    server: FakeOpenAIServer,
) -> None:
    session = make_session(server.base_url)
    ask(session, server, Reply(text="ok", usage=False))

    lines = usage_lines(session, now=datetime.now())
    estimated_prompt = session.usage.prompt_tokens
    assert estimated_prompt > 0  # counted from our estimate, not left out
    assert row(lines, "this session")[2] == f"~{estimated_prompt:,}"
    assert lines[-1].startswith("context: ~")
    assert "context ~" in toolbar_text(session)

    with_prices(session, {"gpt-4o-mini": USER_PRICE})
    ask(session, server, Reply(text="ok", prompt_tokens=70, completion_tokens=7))
    ask(session, server, Reply(text="ok", usage=False))
    usage = session.usage
    assert usage.prompt_tokens > 70 + estimated_prompt  # reported plus two estimates
    cost = format_dollars(
        USER_PRICE.cost(
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens
        )
    )
    mine = row(usage_lines(session, now=datetime.now()), "this session")
    assert mine[2:] == [f"~{usage.prompt_tokens:,}", f"~{usage.completion_tokens:,}", f"~{cost}"]
    total = usage.prompt_tokens + usage.completion_tokens
    assert f"session ~{total:,} tokens" in toolbar_text(session)


def store_session(server: FakeOpenAIServer, store: Store) -> tuple[ChatSession, StoreJournal]:
    journal = StoreJournal(store)
    client = ChatClient(api_key="k", base_url=server.base_url, timeout=5, max_retries=0)
    session = ChatSession(
        config=make_config(server.base_url),
        persona=load_personas().get("default"),
        backend=client,
        journal=journal,
    )
    return session, journal


def test_today_and_this_month_come_from_the_store_in_local_time(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    now = datetime(2025, 3, 15, 9, 30)
    with Store.open(tmp_path / "usage.db") as store:
        session, _ = store_session(server, store)

        def spent(model: str, at: datetime, prompt: int, completion: int) -> None:
            store.record_usage(
                None,
                model=model,
                prompt_tokens=prompt,
                completion_tokens=completion,
                at=at.timestamp(),
            )

        spent("gpt-4o-mini", datetime(2025, 3, 15, 0, 5), 1000, 100)  # today
        spent("gpt-4o-mini", datetime(2025, 3, 14, 23, 55), 2000, 200)  # yesterday
        spent("local-llama", datetime(2025, 3, 1, 0, 1), 500, 50)  # first of the month
        spent("gpt-4o-mini", datetime(2025, 2, 28, 23, 59), 9999, 9999)  # last month

        lines = usage_lines(session, now=now)

    price = price_for("gpt-4o-mini")
    assert price is not None
    today = price.cost(prompt_tokens=1000, completion_tokens=100)
    month = price.cost(prompt_tokens=3000, completion_tokens=300)
    assert row(lines, "today") == ["today", "gpt-4o-mini", "1,000", "100", format_dollars(today)]
    start = next(i for i, line in enumerate(lines) if line.startswith("this month"))
    assert [cells(line) for line in lines[start : start + 3]] == [
        ["this month", "gpt-4o-mini", "3,000", "300", format_dollars(month)],
        ["local-llama", "500", "50", "no price known"],
        # The unpriced model is missing from the sum: it is a lower bound.
        ["all models", "3,500", "350", "≥" + format_dollars(month)],
    ]
    assert row(lines, "this session") == ["this session", "nothing yet"]


def test_without_a_store_the_totals_are_not_kept(server: FakeOpenAIServer) -> None:
    session = make_session(server.base_url)
    assert "today and this month: not kept (--no-store)" in usage_lines(session, now=datetime.now())


def test_usage_command_prints_the_table(server: FakeOpenAIServer) -> None:
    session = make_session(server.base_url, model="fake-model")
    ask(session, server, Reply(text="ok", prompt_tokens=12, completion_tokens=3))
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    personas = load_personas()
    context = CommandContext(
        session=session,
        personas=personas,
        notices=Notices(console=console),
        console=console,
        run_turn=lambda turn: None,
    )
    builtin_commands(personas=personas, server=FixedServer(session.backend)).dispatch(
        context, "/usage"
    )
    printed = out.getvalue().splitlines()
    assert row(printed, "this session") == [
        "this session",
        "fake-model",
        "12",
        "3",
        "no price known",
    ]
    assert printed[-1].startswith("context: 12 of ")


def test_paid_tokens_stay_counted_after_undo_and_delete(tmp_path: Path) -> None:
    with Store.open(tmp_path / "usage.db") as store:
        journal = StoreJournal(store)
        persona = load_personas().get("default")
        params = make_config("http://x").params_for(persona)
        question = Message(role=Role.USER, content="q")
        answer = Message(role=Role.ASSISTANT, content="a")
        journal.record(question, persona=persona, params=params)
        journal.record(answer, persona=persona, params=params)
        journal.record_usage(model="m", prompt_tokens=30, completion_tokens=3)
        journal.forget([question, answer])
        assert journal.usage_since(since=0.0) == {"m": (30, 3)}
        store.delete_conversation(journal.conversation_id or 0)
        assert journal.usage_since(since=0.0) == {"m": (30, 3)}


def test_retried_and_undone_replies_still_count_today(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    with Store.open(tmp_path / "usage.db") as store:
        session, journal = store_session(server, store)
        ask(session, server, Reply(text="first", prompt_tokens=100, completion_tokens=10))
        server.enqueue(Reply(text="second", prompt_tokens=120, completion_tokens=12))
        session.retry(renderer=RecordingRenderer())
        session.undo()
        assert session.conversation.messages == []
        assert journal.usage_since(since=0.0) == {"gpt-4o-mini": (220, 22)}
        today = row(usage_lines(session, now=datetime.now()), "today")
        assert today[:4] == ["today", "gpt-4o-mini", "220", "22"]


# -- one-shot --usage ----------------------------------------------------------


def run_app(server: FakeOpenAIServer, *argv: str) -> tuple[int, str]:
    environ = {**os.environ, "OPENAI_BASE_URL": server.base_url, "CHATBOT_LOCAL": "0"}
    stderr = io.StringIO()
    code = main(
        list(argv), environ=environ, stdin=io.StringIO(""), stdout=io.StringIO(), stderr=stderr
    )
    return code, stderr.getvalue()


def test_one_shot_usage_is_printed_on_stderr_and_estimates_are_marked(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue(Reply(text="the answer", usage=False))
    code, err = run_app(server, "--usage", "what is it?")
    assert code == 0
    line = err.strip().splitlines()[-1]
    assert re.fullmatch(r"usage: ~\d+ prompt \+ ~\d+ completion tokens \(~(\$|<\$)[\d.]+\)", line)

    server.enqueue(Reply(text="the answer", prompt_tokens=9, completion_tokens=2))
    code, err = run_app(server, "hello")
    assert code == 0 and "usage:" not in err


def test_config_file_windows_and_errors_reach_the_app(server: FakeOpenAIServer) -> None:
    write_config('[context_windows]\n"fake-model" = 64\n')
    code, err = run_app(server, "-m", "fake-model", "word " * 200)
    assert code == MessageTooLarge.exit_code and "64-token context" in err
    assert server.chat_requests == []

    path = write_config("[context_windows]\nfake-model = -1\n")
    code, err = run_app(server, "hello")
    assert code == ConfigError.exit_code and str(path) in err


def test_usage_flag_in_a_real_process(server: FakeOpenAIServer) -> None:
    write_config('[prices."fake-model"]\ninput = 1000\noutput = 2000\n')
    server.enqueue(Reply(text="hi there", prompt_tokens=123, completion_tokens=45))
    done = subprocess.run(
        [sys.executable, "-m", "chatbot", "--usage", "-m", "fake-model", "hello"],
        env={**os.environ, "OPENAI_BASE_URL": server.base_url, "CHATBOT_LOCAL": "0"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "hi there" in done.stdout
    cost = format_dollars(USER_PRICE.cost(prompt_tokens=123, completion_tokens=45))
    assert done.stderr.strip().splitlines()[-1] == (
        f"usage: 123 prompt + 45 completion tokens ({cost})"
    )
