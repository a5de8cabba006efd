"""Composing the next message: ``/file`` attaches files, ``/edit`` opens the editor."""

from __future__ import annotations

import shlex
from pathlib import Path

from chatbot.conversation.attachments import AttachmentKind
from chatbot.conversation.compose import attach_files, room_for_message
from chatbot.errors import ChatbotError
from chatbot.repl.commands.builtins import CommandContext, CommandRegistry

__all__ = ["add_compose_commands", "split_paths"]


def split_paths(argument: str) -> list[Path]:
    """The paths in ``/file``'s argument, split like a shell ("my notes.txt" in quotes).

    An argument that names an existing file as a whole is that one file, quotes or not.
    """
    whole = Path(argument).expanduser()
    if whole.exists():
        return [whole]
    try:
        words = shlex.split(argument)
    except ValueError:
        raise ChatbotError(f"/file: a quote is not closed in {argument!r}") from None
    return [Path(word).expanduser() for word in words]


def add_compose_commands(registry: CommandRegistry) -> None:
    """Register /file and /edit."""

    @registry.add(
        "file",
        usage="/file [PATH ...|clear]",
        help="attach text files or images to your next message; alone, list them",
        paths=True,
    )
    def _file(ctx: CommandContext, argument: str) -> None:
        attached = ctx.attachments
        counter = ctx.session.counter
        if not argument:
            if not attached:
                ctx.notices.hint(
                    "nothing attached (/file PATH attaches a file to your next message)"
                )
                return
            for file in attached:
                kind = "" if file.kind is AttachmentKind.TEXT else f" ({file.mime})"
                ctx.notices.plain(f"{file.name}{kind} · ~{counter.file_tokens(file):,} tokens")
            ctx.notices.hint("sent with your next message; /file clear drops them")
            return
        if argument == "clear":
            count = len(attached)
            attached.clear()
            ctx.notices.info(f"dropped {count} attachment(s)" if count else "nothing was attached")
            return
        # All or nothing: the first file that cannot be attached stops the others.
        new = attach_files(split_paths(argument), session=ctx.session)
        for item in new:
            attached.append(item.attachment)
            ctx.notices.info(item.line())
        total = sum(counter.file_tokens(file) for file in attached)
        room = room_for_message(ctx.session)
        if len(attached) > 1 and total > room:
            ctx.notices.warning(
                f"together the attachments are about {total:,} tokens, more than the {room:,} "
                "a message has room for: it would be refused (/file clear to start again)"
            )

    @registry.add(
        "edit",
        usage="/edit [TEXT]",
        help="write your next message in $VISUAL/$EDITOR (also Ctrl-X Ctrl-E at the prompt)",
    )
    def _edit(ctx: CommandContext, argument: str) -> None:
        text = ctx.edit(argument)
        if not text.strip():
            ctx.notices.hint("the editor left nothing to send")
            return
        # Not sent yet: it comes back at the prompt, to send with Enter or edit further.
        ctx.next_input = text
