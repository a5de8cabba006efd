"""A REPL driven through a real PromptSession on a pipe input, with its output captured."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from chatbot.conversation.session import ChatSession
from chatbot.repl.commands.builtins import builtin_commands
from chatbot.repl.input_line import SlashCompleter, build_prompt_session
from chatbot.repl.loop import Repl
from chatbot.repl.notices import Notices
from chatbot.settings.personas import load_personas
from tests.support.helpers import RecordingRenderer

__all__ = ["Harness", "SessionFactory"]


#: Builds the session given where its notices go (as the app passes ``notify``).
SessionFactory = Callable[[Callable[[str], None]], ChatSession]


class Harness:
    """``Repl.run()`` on typed keys; ``session`` may be a factory taking ``notify``."""

    def __init__(
        self, session: ChatSession | SessionFactory, pipe: PipeInput, history: Path
    ) -> None:
        self.out = io.StringIO()
        self.console = Console(file=self.out, width=80, color_system=None)
        self.notices = Notices(console=self.console)
        if not isinstance(session, ChatSession):
            session = session(self.notices.hint)
        self.session = session
        self.renderers: list[RecordingRenderer] = []
        self.pipe = pipe
        book = load_personas()
        commands = builtin_commands(personas=book)
        self.prompt = build_prompt_session(
            history_path=history,
            completer=SlashCompleter(commands=commands.names, arguments=commands.argument_choices),
            input=pipe,
            output=DummyOutput(),
        )
        self.copied: list[str] = []
        self.repl = Repl(
            session=session,
            prompt=self.prompt,
            notices=self.notices,
            console=self.console,
            personas=book,
            commands=commands,
            renderer_factory=self._renderer,
        )
        self.repl.context.copy = self.copied.append

    def _renderer(self) -> RecordingRenderer:
        renderer = RecordingRenderer()
        self.renderers.append(renderer)
        return renderer

    def run(self, keys: str) -> int:
        self.pipe.send_text(keys)
        return self.repl.run()

    @property
    def output(self) -> str:
        return self.out.getvalue()
