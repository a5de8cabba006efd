"""Starting the interactive chat: the prompt, its commands and the loop, wired together.

The app decides *what* runs (server, store, tools); this module builds the
REPL around a ready session and runs it until the user leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession

    from chatbot.api.client import ChatClient
    from chatbot.conversation.compose import Attached
    from chatbot.conversation.session import ChatSession
    from chatbot.local.runtime import LocalRuntime
    from chatbot.render import ReplyRenderer
    from chatbot.repl.notices import Notices
    from chatbot.settings.personas import PersonaBook
    from chatbot.store.database import Store
    from chatbot.store.records import StoredConversation
    from chatbot.store.store_journal import StoreJournal
    from chatbot.tools.toolbox import Toolbox

__all__ = ["run_chat"]


def run_chat(
    *,
    session: ChatSession,
    book: PersonaBook,
    notices: Notices,
    client: ChatClient,
    renderer_factory: Callable[[], ReplyRenderer],
    environ: Mapping[str, str],
    stdout: TextIO,
    history_path: Path,
    resumed: StoredConversation | None = None,
    attached: Sequence[Attached] = (),
    local: LocalRuntime | None = None,
    store: Store | None = None,
    store_journal: StoreJournal | None = None,
    tools: Toolbox | None = None,
) -> int:
    """Run the chat until the user leaves; returns the exit status."""
    from chatbot.i18n import parse_answer
    from chatbot.repl.clipboard import copy_to_clipboard
    from chatbot.repl.commands.builtins import builtin_commands
    from chatbot.repl.editor import edit_text
    from chatbot.repl.input_line import SlashCompleter, build_prompt_session
    from chatbot.repl.loop import Repl
    from chatbot.repl.toolbar import toolbar_text

    console = notices.console
    commands = builtin_commands(personas=book)
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
    )

    def confirm(question: str) -> bool:
        try:
            answer = prompt.prompt(question, multiline=False, completer=None)
        except (KeyboardInterrupt, EOFError):
            return False
        return parse_answer(answer) == "yes"

    from chatbot.repl.commands.server_commands import add_server_commands

    add_server_commands(commands, runtime=local, client=client, backend=session.backend)
    if store is not None and store_journal is not None:
        from chatbot.repl.commands.session_commands import add_store_commands

        add_store_commands(commands, store=store, journal=store_journal, confirm=confirm)
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
    terminal = stdout if stdout.isatty() else None
    repl.context.copy = partial(copy_to_clipboard, environ=environ, terminal=terminal)
    if resumed is not None:
        from chatbot.repl.commands.session_commands import show_recent

        show_recent(repl.context, resumed)
    for item in attached:
        notices.info(item.line())
    from chatbot.engine.toolbox_setup import for_chat

    tools = tools
    start_servers = for_chat(tools, prompt=prompt, commands=commands) if tools else None
    _warm_up_after_first_render(prompt, client, start_servers)
    return repl.run()


def _columns() -> int:
    """The terminal's width, for the toolbar (asked at each redraw: it may be resized)."""
    from prompt_toolkit.application import get_app

    return get_app().output.get_size().columns


def _warm_up_after_first_render(
    prompt: PromptSession[str], client: ChatClient, start_servers: Callable[[], None] | None
) -> None:
    """Load the SDK, and start MCP servers, once the prompt is on screen, not before.

    Importing openai takes most of a second (the MCP SDK more); started any
    earlier it competes with drawing the prompt for the interpreter lock.
    """

    def start(_: object) -> None:
        prompt.app.after_render -= start
        client.warm_up()
        if start_servers is not None:
            start_servers()

    prompt.app.after_render += start
