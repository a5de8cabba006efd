"""Tools in the chat: a real PromptSession on a pipe, the real client and fake server, the store.

The approval question is asked the way the app asks it (``repl.startup.build_chat``):
a second, history-less prompt on the same input.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from chatbot.api.client import ChatClient
from chatbot.conversation.messages import ReplyStatus, Role
from chatbot.conversation.session import ChatSession
from chatbot.engine.toolbox_setup import build_toolbox
from chatbot.render import make_renderer
from chatbot.repl.notices import Notices
from chatbot.repl.startup import build_chat
from chatbot.servers.server import RemoteServer
from chatbot.settings.personas import load_personas
from chatbot.settings.tool_config import ToolSettings
from chatbot.store.database import Store
from chatbot.store.export import from_json, to_json, to_markdown
from chatbot.store.store_journal import StoreJournal, resume
from chatbot.tools.display import ToolConsole
from tests.support.fakeserver import FakeOpenAIServer, FakeToolCall, Reply
from tests.support.helpers import TEST_KEY, make_config


class ToolRepl:
    """A chat with tools, as the app wires it, typed into through a pipe."""

    def __init__(
        self, server: FakeOpenAIServer, pipe: PipeInput, home: Path, *, persona: str = "it-support"
    ) -> None:
        self.pipe = pipe
        self.out = io.StringIO()
        console = Console(file=self.out, width=120, color_system=None, highlight=False)
        self.notices = Notices(console=console)
        self.store = Store.open(home / "store.sqlite3")
        self.journal = StoreJournal(self.store)
        self.client = ChatClient(
            api_key=TEST_KEY, base_url=server.base_url, timeout=5, max_retries=0
        )
        config = make_config(server.base_url)
        book = load_personas()
        self.toolbox = build_toolbox(
            settings=ToolSettings(shell_timeout=10),
            servers=(),
            env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": TEST_KEY},
            display=ToolConsole(console=console),
            ask=None,
            assume_yes=False,
            enabled=True,
            max_rounds=None,
            renderer_factory=lambda: make_renderer(console=console, markdown=False, file=self.out),
            server_url=server.base_url,
            api_key=TEST_KEY,
            data_dir=home,
        )
        self.session = ChatSession(
            config=config,
            persona=book.get(persona),
            backend=self.client,
            journal=self.journal,
            tools=self.toolbox,
        )
        self.history = home / "history"
        self.repl = build_chat(
            session=self.session,
            server=RemoteServer(self.client),
            book=book,
            notices=self.notices,
            renderer_factory=lambda: make_renderer(console=console, markdown=False, file=self.out),
            environ={},
            history_path=self.history,
            tools=self.toolbox,
            input=pipe,
            output=DummyOutput(),
        ).repl

    def type(self, keys: str) -> str:
        """Type ``keys`` then Ctrl-D; returns what was shown."""
        start = len(self.out.getvalue())
        writer = threading.Thread(target=self.pipe.send_text, args=(keys + "\x04",))
        writer.start()
        try:
            assert self.repl.run() == 0
        finally:
            writer.join(timeout=10)
        return self.out.getvalue()[start:]

    def close(self) -> None:
        self.client.close()
        self.store.close()


@pytest.fixture
def chat(server: FakeOpenAIServer, pipe: PipeInput, tmp_path: Path) -> Iterator[ToolRepl]:
    repl = ToolRepl(server, pipe, tmp_path)
    yield repl
    repl.close()


def shell(command: str) -> FakeToolCall:
    return FakeToolCall("shell", json.dumps({"command": command}))


def test_approve_then_deny_at_the_prompt(server: FakeOpenAIServer, chat: ToolRepl) -> None:
    server.enqueue(
        Reply(text="Let me check.", tool_calls=[shell("echo 'inet 192.168.1.20/24'")]),
        Reply(text="Your address is 192.168.1.20."),
        Reply(tool_calls=[shell("echo should-not-run")]),
        Reply(text="Fine, I will not."),
    )

    shown = chat.type("what is my IP?\ry\rrun something else\rn\r")

    assert "shell wants to run:" in shown and "echo 'inet 192.168.1.20/24'" in shown
    assert "⚙ #1 shell echo 'inet 192.168.1.20/24' … " in shown
    assert "Your address is 192.168.1.20." in shown
    assert "⚙ #2 shell echo should-not-run → declined" in shown
    bodies = [r.body for r in server.chat_requests]
    assert bodies[1]["messages"][-1]["role"] == "tool"
    assert "inet 192.168.1.20/24" in bodies[1]["messages"][-1]["content"]
    assert "declined" in bodies[3]["messages"][-1]["content"]
    # The answers to the question never land in the input history.
    history = chat.history.read_text()
    assert "what is my IP?" in history and "\n+y\n" not in history and "\n+n\n" not in history


def test_ctrl_c_at_the_question_ends_the_turn_and_keeps_the_chat(
    server: FakeOpenAIServer, chat: ToolRepl
) -> None:
    server.enqueue(
        Reply(text="Checking.", tool_calls=[shell("ip addr")]), Reply(text="next answer")
    )

    shown = chat.type("check\r\x03and now?\r")

    assert "tool call cancelled; the turn ended; what was shown is kept" in shown
    assert "next answer" in shown
    last = server.chat_requests[-1].body["messages"]
    assert [m["role"] for m in last[1:]] == ["user", "assistant", "tool", "user"]
    assert last[3]["content"] == "cancelled by the user"


def test_tools_lists_switches_off_and_on_and_tool_n_shows_a_result(
    server: FakeOpenAIServer, chat: ToolRepl
) -> None:
    server.enqueue(
        Reply(tool_calls=[shell("printf 'line %s\\n' 1 2 3")]), Reply(text="Three lines.")
    )

    shown = chat.type(
        "count\ry\r/tool 1\r/tools\r/tools off\rno tools now\r/tools on\r/tool 7\r/help\r"
    )

    assert "#1 shell: result" in shown and "line 1\nline 2\nline 3" in shown
    assert "tools: on (/tools off stops offering them)" in shown
    assert "shell (built-in): on, asks before every command" in shown
    assert "no MCP servers configured" in shown
    assert "tools off: the model is offered none until /tools on" in shown
    assert "tools on: the model may ask to use them" in shown
    assert "/tool takes a call number from 1 to 1" in shown
    assert "/tools [on|off]" in shown and "/tool N" in shown  # /help names them
    assert "tools" not in server.chat_requests[-1].body
    assert server.chat_requests[0].body["tools"][0]["function"]["name"] == "shell"


def test_calls_and_results_are_stored_resumed_and_exported(
    server: FakeOpenAIServer, chat: ToolRepl, tmp_path: Path
) -> None:
    server.enqueue(Reply(text="Looking.", tool_calls=[shell("echo 42")]), Reply(text="It is 42."))
    chat.type("the answer?\ry\r")
    assert chat.journal.conversation_id is not None

    stored = chat.store.load_conversation(chat.journal.conversation_id)
    roles = [(m.role, m.status) for m in stored.messages]
    assert roles == [
        (Role.USER, ReplyStatus.COMPLETE),
        (Role.ASSISTANT, ReplyStatus.TOOL_CALLS),
        (Role.TOOL, ReplyStatus.COMPLETE),
        (Role.ASSISTANT, ReplyStatus.COMPLETE),
    ]
    asked, answered = stored.messages[1], stored.messages[2]
    assert asked.tool_calls[0].name == "shell" and answered.tool_call_id == asked.tool_calls[0].id

    markdown = to_markdown(stored)
    assert "Calls `shell` with:" in markdown and '"command": "echo 42"' in markdown
    assert "### Tool result: `shell`" in markdown and "42\n[exit status 0]" in markdown
    again = from_json(json.loads(json.dumps(to_json(stored))))
    assert again.messages[1].message.tool_calls == asked.tool_calls
    assert again.messages[2].message.tool_call_id == answered.tool_call_id

    # A resumed chat sends the calls and results again, and the model goes on from them.
    resumed = ChatSession(
        config=chat.session.config,
        persona=chat.session.persona,
        backend=chat.client,
        journal=chat.journal,
        tools=chat.toolbox,
    )
    resume(resumed, stored, book=load_personas(), journal=chat.journal)
    server.enqueue(Reply(text="Still 42."))
    from tests.support.helpers import RecordingRenderer

    resumed.send("sure?", renderer=RecordingRenderer())
    sent = server.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent[1:]] == ["user", "assistant", "tool", "assistant", "user"]
    assert sent[2]["tool_calls"][0]["id"] == sent[3]["tool_call_id"]
