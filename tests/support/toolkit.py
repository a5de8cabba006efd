"""Toolboxes for tests: a scripted person at the approval prompt, output captured."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from chatbot.api.events import ChatBackend
from chatbot.conversation.journal import Journal
from chatbot.conversation.session import ChatSession
from chatbot.settings.personas import Persona, load_personas
from chatbot.settings.tool_config import McpServerConfig, ToolSettings
from chatbot.tools.approval import Approver
from chatbot.tools.display import ToolConsole
from chatbot.tools.mcp_hub import McpHub
from chatbot.tools.memory import ToolSupportMemory
from chatbot.tools.shell import shell_environment
from chatbot.tools.toolbox import Toolbox
from tests.support.helpers import RecordingRenderer, make_config

__all__ = [
    "CTRL_C",
    "MCP_SERVER",
    "Person",
    "ToolKit",
    "mcp_config",
    "tool_session",
]

#: The tests' MCP server script (the SDK's server side, over stdio).
MCP_SERVER = str(Path(__file__).with_name("mcp_server.py"))
#: An answer that presses Ctrl-C at the question instead of typing.
CTRL_C = "<ctrl-c>"


def mcp_config(name: str = "demo", **fields: object) -> McpServerConfig:
    """A server entry that starts the tests' MCP server."""
    return McpServerConfig(
        name=name,
        command=sys.executable,
        args=(MCP_SERVER, name),
        **fields,  # type: ignore[arg-type]
    )


class Person:
    """Answers approval questions from a script, and remembers what was asked."""

    def __init__(self, answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []

    def __call__(self, question: str) -> str:
        self.questions.append(question)
        answer = self.answers.pop(0)
        if answer == CTRL_C:
            raise KeyboardInterrupt
        return answer


class ToolKit:
    """A :class:`Toolbox` on a captured console, with everything it was built from."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        answers: Sequence[str] | None = (),
        assume_yes: bool = False,
        max_rounds: int = 8,
        shell_timeout: float = 10.0,
        servers: Sequence[McpServerConfig] = (),
    ) -> None:
        self.out = io.StringIO()
        self.person = Person(answers) if answers is not None else None
        self.renderers: list[RecordingRenderer] = []
        self.hub = McpHub(servers, log_dir=tmp_path / "logs") if servers else None
        self.toolbox = Toolbox(
            settings=ToolSettings(max_rounds=max_rounds, shell_timeout=shell_timeout),
            approver=Approver(ask=self.person, assume_yes=assume_yes),
            console=ToolConsole(console=Console(file=self.out, width=120, color_system=None)),
            renderer_factory=self._renderer,
            shell_env=shell_environment(os.environ),
            server_url="http://scripted.invalid/v1",
            hub=self.hub,
            memory=ToolSupportMemory(tmp_path / "no-tools.json"),
        )
        if self.hub is not None:
            self.hub.start_in_background()

    def _renderer(self) -> RecordingRenderer:
        renderer = RecordingRenderer()
        self.renderers.append(renderer)
        return renderer

    @property
    def output(self) -> str:
        return self.out.getvalue()

    def close(self) -> None:
        self.toolbox.close()


def tool_session(
    backend: ChatBackend,
    kit: ToolKit,
    *,
    persona: str | Persona = "it-support",
    journal: Journal | None = None,
    **flags: object,
) -> ChatSession:
    """A session whose model may use ``kit``'s tools."""
    chosen = load_personas().get(persona) if isinstance(persona, str) else persona
    return ChatSession(
        config=make_config("http://scripted.invalid/v1", **flags),
        persona=chosen,
        backend=backend,
        journal=journal,
        tools=kit.toolbox,
    )
