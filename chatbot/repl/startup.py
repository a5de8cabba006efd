"""The interactive chat around a ready session: the prompt, its commands and the loop.

The engine (:mod:`chatbot.engine`) decides what runs (server, store, tools) and
builds the session; :func:`build_chat` builds the terminal around it, the same
way for the app and for the tests that drive it on a pipe, and :meth:`Chat.run`
runs it until the user leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from chatbot.conversation.compose import Attached
    from chatbot.conversation.session import ChatSession
    from chatbot.engine.building import Storage
    from chatbot.render import ReplyRenderer
    from chatbot.repl.commands.registry import CommandRegistry
    from chatbot.repl.loop import Repl
    from chatbot.repl.notices import Notices
    from chatbot.servers.server import Server
    from chatbot.settings.personas import PersonaBook
    from chatbot.store.records import StoredConversation
    from chatbot.tools.toolbox import Toolbox

__all__ = ["Chat", "build_chat"]


@dataclass(frozen=True, slots=True)
class Chat:
    """A built chat: the loop, its prompt and commands, and what to start once it shows."""

    repl: Repl
    prompt: PromptSession[str]
    commands: CommandRegistry
    #: Loads the SDK and starts MCP servers; called once the prompt is on screen.
    warm_up: Callable[[], None]

    def run(self) -> int:
        """Run until the user leaves; the warm-up starts after the first render."""
        _after_first_render(self.prompt, self.warm_up)
        return self.repl.run()


def build_chat(
    *,
    session: ChatSession,
    server: Server,
    book: PersonaBook,
    notices: Notices,
    renderer_factory: Callable[[], ReplyRenderer],
    environ: Mapping[str, str],
    history_path: Path,
    terminal: TextIO | None = None,
    storage: Storage | None = None,
    tools: Toolbox | None = None,
    resumed: StoredConversation | None = None,
    attached: Sequence[Attached] = (),
    input: Input | None = None,
    output: Output | None = None,
) -> Chat:
    """The chat the user gets, wired once, for the app and the tests alike.

    ``terminal`` is the real terminal for ``/copy``'s OSC 52 (None when stdout is not
    one); ``input`` and ``output`` replace the terminal's for a prompt on a pipe.
    """
    from chatbot.i18n import parse_answer
    from chatbot.repl.clipboard import copy_to_clipboard
    from chatbot.repl.commands.builtins import builtin_commands
    from chatbot.repl.editor import edit_text
    from chatbot.repl.input_line import SlashCompleter, build_prompt_session
    from chatbot.repl.loop import Repl
    from chatbot.repl.toolbar import toolbar_text

    console = notices.console
    commands = builtin_commands(personas=book, server=server)
    # -f without a question: the files go with the first message.
    pending = [item.attachment for item in attached]
    edit = partial(edit_text, environ=environ)
    prompt = build_prompt_session(
        history_path=history_path,
        completer=SlashCompleter(
            commands=commands.names,
            arguments=commands.argument_choices,
            path_commands=commands.path_commands,
        ),
        toolbar=lambda: toolbar_text(session, attachments=pending, width=_columns()),
        edit=edit,
        report=notices.error,
        input=input,
        output=output,
    )

    def confirm(question: str) -> bool:
        try:
            answer = prompt.prompt(question, multiline=False, completer=None)
        except (KeyboardInterrupt, EOFError):
            return False
        return parse_answer(answer) == "yes"

    if storage is not None:
        from chatbot.repl.commands.session_commands import add_store_commands

        add_store_commands(commands, store=storage.store, journal=storage.journal, confirm=confirm)
    start_servers = _ask_tools_at_the_prompt(tools, prompt=prompt, commands=commands)
    repl = Repl(
        session=session,
        prompt=prompt,
        console=console,
        personas=book,
        commands=commands,
        renderer_factory=renderer_factory,
        notices=notices,
        attachments=pending,
    )
    repl.context.edit = edit
    # /copy may ask the terminal itself (OSC 52): the real one, never through the sanitiser.
    repl.context.copy = partial(copy_to_clipboard, environ=environ, terminal=terminal)
    if resumed is not None:
        from chatbot.repl.commands.session_commands import show_recent

        show_recent(repl.context, resumed)
    for item in attached:
        notices.info(item.line())

    def warm_up() -> None:
        server.warm_up()
        start_servers()

    return Chat(repl=repl, prompt=prompt, commands=commands, warm_up=warm_up)


def _ask_tools_at_the_prompt(
    toolbox: Toolbox | None, *, prompt: PromptSession[str], commands: CommandRegistry
) -> Callable[[], None]:
    """Ask approvals through the prompt, add /tools and /tool; returns what starts the servers.

    The question gets its own history-less prompt on the same terminal, so a "y"
    never lands in the input history.
    """
    if toolbox is None:
        return lambda: None
    from chatbot.repl.commands.tool_commands import add_tool_commands

    asking: list[PromptSession[str]] = []

    def ask(question: str) -> str:
        if not asking:
            # Built on first use: a PromptSession costs milliseconds the start-up has not got.
            from prompt_toolkit import PromptSession

            asking.append(PromptSession(input=prompt.input, output=prompt.output))
        return asking[0].prompt(question)

    toolbox.approver.ask = ask
    add_tool_commands(commands, toolbox=toolbox)
    hub = toolbox.hub
    return hub.start_in_background if hub is not None else (lambda: None)


def _columns() -> int:
    """The terminal's width, for the toolbar (asked at each redraw: it may be resized)."""
    from prompt_toolkit.application import get_app

    return get_app().output.get_size().columns


def _after_first_render(prompt: PromptSession[str], warm_up: Callable[[], None]) -> None:
    """Load the SDK, and start MCP servers, once the prompt is on screen, not before.

    Importing openai takes most of a second (the MCP SDK more); started any
    earlier it competes with drawing the prompt for the interpreter lock.
    """

    def start(_: object) -> None:
        prompt.app.after_render -= start
        warm_up()

    prompt.app.after_render += start
