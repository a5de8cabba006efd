"""The input line: a prompt-toolkit session with our keys, completion and toolbar.

prompt-toolkit is imported at module level here: this module is only loaded
when an interactive prompt is about to be shown, and then it is needed anyway.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output

from chatbot.errors import ChatbotError, ConfigError
from chatbot.i18n import _
from chatbot.repl.file_completion import path_completions
from chatbot.settings.paths import open_private, private_file

__all__ = [
    "HISTORY_ENTRIES",
    "EditText",
    "SlashCompleter",
    "build_prompt_session",
    "chat_key_bindings",
    "trim_history",
]

#: The input history keeps the newest this many entries (Up-arrow, suggestions).
HISTORY_ENTRIES = 1_000
#: How prompt-toolkit's FileHistory opens each entry: a blank line, then "# <time>".
#: Entry lines are written as "+<line>", so this cannot occur inside one.
_ENTRY_START = b"\n# "


def trim_history(path: Path, *, keep: int = HISTORY_ENTRIES) -> None:
    """Cut the history file down to its newest ``keep`` entries, if it has more.

    prompt-toolkit reads the whole file at every start and never shortens it, so
    without this a year of typing would slow every start. Counting entries is one
    pass over the bytes; rewriting happens only when there are too many, and
    atomically, so a crash keeps the old file. Best effort: history is a comfort,
    never a reason to refuse to start.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return
    if data.count(_ENTRY_START) <= keep:
        return
    start = len(data)
    for _entry in range(keep):
        start = data.rfind(_ENTRY_START, 0, start)
    spare = path.with_name(path.name + ".trim")
    with contextlib.suppress(OSError, ConfigError):
        fd = open_private(spare, truncate=True)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data[start:])
        os.replace(spare, path)


#: Opens the editor on the input and returns what was saved; raises ChatbotError.
EditText = Callable[[str], str]


def chat_key_bindings(
    *, edit: EditText | None = None, report: Callable[[str], None] | None = None
) -> KeyBindings:
    """Enter sends; Alt-Enter, Esc Enter and Ctrl-J insert a newline; Ctrl-X Ctrl-E edits.

    The buffer is multi-line so a bracketed paste keeps its newlines and
    arrives as one message: prompt-toolkit inserts pasted text verbatim
    without running the Enter binding. With ``edit``, Ctrl-X Ctrl-E opens the
    input in the editor (as in bash); a failure goes to ``report``, one line.
    """
    bindings = KeyBindings()

    if edit is not None:
        run_editor = edit

        @bindings.add("c-x", "c-e")
        def _edit(event: KeyPressEvent) -> None:
            buffer = event.current_buffer

            def open_editor() -> None:
                # Runs with the prompt suspended and the terminal handed over, and sets the
                # text before the prompt takes keys again, so none typed after are lost.
                try:
                    text = run_editor(buffer.text)
                except ChatbotError as exc:
                    (report or _print_error)(str(exc))
                    return
                buffer.document = Document(text, cursor_position=len(text))

            async def in_terminal() -> None:
                await run_in_terminal(open_editor)

            event.app.create_background_task(in_terminal())

    @bindings.add("enter")
    def _send(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    @bindings.add("c-j")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


def _print_error(text: str) -> None:
    print(_("error: {text}").format(text=text), file=sys.stderr)


class SlashCompleter(Completer):
    """Completes ``/command`` names and, after some commands, their arguments.

    After the commands in ``path_commands`` (``/file``) it completes file paths.
    """

    def __init__(
        self,
        *,
        commands: Callable[[], Iterable[str]],
        arguments: Callable[[str], Iterable[str]],
        path_commands: Callable[[], Iterable[str]] = lambda: (),
    ) -> None:
        self._commands = commands
        self._arguments = arguments
        self._path_commands = path_commands

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        name, space, argument = text.partition(" ")
        if not space:
            for command in self._commands():
                if command.startswith(name):
                    yield Completion(command, start_position=-len(name))
            return
        if name[1:] in self._path_commands():
            yield from path_completions(argument.lstrip())
            return
        typed = argument.lstrip()
        for value in self._arguments(name[1:]):
            if value.startswith(typed):
                yield Completion(value, start_position=-len(typed))


def build_prompt_session(
    *,
    history_path: Path | None,
    completer: Completer | None = None,
    toolbar: Callable[[], Any] | None = None,
    input: Input | None = None,
    output: Output | None = None,
    edit: EditText | None = None,
    report: Callable[[str], None] | None = None,
) -> PromptSession[str]:
    """A PromptSession wired for chatting; ``input``/``output`` are for tests.

    ``edit`` (Ctrl-X Ctrl-E) and ``report`` are passed to :func:`chat_key_bindings`.
    """
    history: History = InMemoryHistory()
    if history_path is not None:
        trim_history(history_path)
        history = FileHistory(str(private_file(history_path)))
    return PromptSession(
        history=history,
        auto_suggest=AutoSuggestFromHistory(),
        multiline=True,
        key_bindings=chat_key_bindings(edit=edit, report=report),
        completer=completer,
        complete_while_typing=True,
        bottom_toolbar=toolbar,
        input=input,
        output=output,
    )
