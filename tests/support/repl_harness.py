"""A REPL driven through a real PromptSession on a pipe input, with its output captured.

It is the app's own chat (:func:`chatbot.repl.startup.build_chat`), on a pipe.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from chatbot.conversation.session import ChatSession
from chatbot.repl.notices import Notices
from chatbot.repl.startup import build_chat
from chatbot.servers.server import FixedServer, Server
from chatbot.settings.personas import load_personas
from tests.support.helpers import RecordingRenderer

__all__ = ["Harness", "SessionFactory"]


#: Builds the session given where its notices go (as the app passes ``notify``).
SessionFactory = Callable[[Callable[[str], None]], ChatSession]


class Harness:
    """``Repl.run()`` on typed keys; ``session`` may be a factory taking ``notify``.

    ``server`` is what ``/model`` asks (default: the session's backend, as it is).
    """

    def __init__(
        self,
        session: ChatSession | SessionFactory,
        pipe: PipeInput,
        history: Path,
        *,
        server: Server | None = None,
    ) -> None:
        self.out = io.StringIO()
        self.console = Console(file=self.out, width=80, color_system=None)
        self.notices = Notices(console=self.console)
        if not isinstance(session, ChatSession):
            session = session(self.notices.hint)
        self.session = session
        self.renderers: list[RecordingRenderer] = []
        self.pipe = pipe
        self.chat = build_chat(
            session=session,
            server=server or FixedServer(session.backend),
            book=load_personas(),
            notices=self.notices,
            renderer_factory=self._renderer,
            environ={},
            history_path=history,
            input=pipe,
            output=DummyOutput(),
        )
        self.repl = self.chat.repl
        self.prompt = self.chat.prompt
        self.copied: list[str] = []
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
