"""Slash commands: what one is, the registry that dispatches them, and what they can touch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chatbot.conversation.attachments import Attachment
from chatbot.conversation.session import ChatSession, TurnResult
from chatbot.errors import ChatbotError
from chatbot.i18n import _
from chatbot.render import ReplyRenderer
from chatbot.repl.clipboard import copy_to_clipboard
from chatbot.repl.editor import edit_text
from chatbot.repl.notices import Notices
from chatbot.settings.personas import PersonaBook

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Command", "CommandContext", "CommandRegistry", "Exit", "TurnRunner"]

TurnRunner = Callable[[Callable[[ReplyRenderer], TurnResult]], None]


class Exit(Exception):
    """Raised by a command to leave the REPL."""


@dataclass(kw_only=True)
class CommandContext:
    session: ChatSession
    personas: PersonaBook
    notices: Notices
    console: Console
    #: Runs a turn with the REPL's renderer and notices (for /retry).
    run_turn: TurnRunner
    #: Copies text out; returns how it went ("the terminal (OSC 52)"), if it can tell.
    copy: Callable[[str], str | None] = copy_to_clipboard
    #: Files attached to the next message (/file); sent with it, then cleared.
    attachments: list[Attachment] = field(default_factory=list)
    #: Opens the editor on a text and returns what was saved (/edit).
    edit: Callable[[str], str] = edit_text
    #: Text the next prompt starts with (what /edit produced).
    next_input: str | None = None


Handler = Callable[[CommandContext, str], None]


@dataclass(frozen=True, kw_only=True, slots=True)
class Command:
    name: str
    usage: str
    help: str
    handler: Handler
    #: Completions for the argument (persona names, ...).
    arguments: Callable[[], list[str]] | None = None
    #: True when the arguments are file paths (Tab completes them).
    paths: bool = False


@dataclass
class CommandRegistry:
    commands: dict[str, Command] = field(default_factory=dict)

    def add(
        self,
        name: str,
        *,
        usage: str,
        help: str,
        arguments: Callable[[], list[str]] | None = None,
        paths: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.commands[name] = Command(
                name=name,
                usage=usage,
                help=help,
                handler=handler,
                arguments=arguments,
                paths=paths,
            )
            return handler

        return register

    def __iter__(self) -> Iterator[Command]:
        return iter(self.commands.values())

    def names(self) -> list[str]:
        return ["/" + name for name in self.commands]

    def path_commands(self) -> list[str]:
        """Names of the commands whose arguments are file paths."""
        return [command.name for command in self if command.paths]

    def argument_choices(self, name: str) -> list[str]:
        """Completions for the argument of ``/name``."""
        command = self.commands.get(name)
        return command.arguments() if command and command.arguments else []

    def dispatch(self, context: CommandContext, line: str) -> None:
        """Run the command on ``line`` (which starts with '/'); raises Exit to leave."""
        name, _space, argument = line[1:].partition(" ")
        command = self.commands.get(name.strip().lower())
        if command is None:
            raise ChatbotError(
                _("unknown command /{name} (type /help for the list)").format(name=name.strip())
            )
        command.handler(context, argument.strip())
