"""The input line: a prompt-toolkit session with our keys, completion and toolbar.

prompt-toolkit is imported at module level here: this module is only loaded
when an interactive prompt is about to be shown, and then it is needed anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output

from chatbot.settings.paths import private_file

__all__ = ["SlashCompleter", "build_prompt_session", "chat_key_bindings"]


def chat_key_bindings() -> KeyBindings:
    """Enter sends; Alt-Enter, Esc Enter and Ctrl-J insert a newline.

    The buffer is multi-line so a bracketed paste keeps its newlines and
    arrives as one message: prompt-toolkit inserts pasted text verbatim
    without running the Enter binding.
    """
    bindings = KeyBindings()

    @bindings.add("enter")
    def _send(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    @bindings.add("c-j")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


class SlashCompleter(Completer):
    """Completes ``/command`` names and, after some commands, their arguments."""

    def __init__(
        self,
        *,
        commands: Callable[[], Iterable[str]],
        arguments: Callable[[str], Iterable[str]],
    ) -> None:
        self._commands = commands
        self._arguments = arguments

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
) -> PromptSession[str]:
    """A PromptSession wired for chatting; ``input``/``output`` are for tests."""
    history: History = (
        FileHistory(str(private_file(history_path))) if history_path else InMemoryHistory()
    )
    return PromptSession(
        history=history,
        auto_suggest=AutoSuggestFromHistory(),
        multiline=True,
        key_bindings=chat_key_bindings(),
        completer=completer,
        complete_while_typing=True,
        bottom_toolbar=toolbar,
        input=input,
        output=output,
    )
