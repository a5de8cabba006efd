"""Composing the next message: ``/file`` attaches files, ``/edit`` opens the editor."""

from __future__ import annotations

import shlex
from pathlib import Path

from chatbot.conversation.attachments import AttachmentKind
from chatbot.conversation.compose import attach_files, room_for_message
from chatbot.errors import ChatbotError
from chatbot.i18n import _, ngettext, quote
from chatbot.repl.commands.registry import CommandContext, CommandRegistry

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
        raise ChatbotError(
            _("/file: a quote is not closed in {text}").format(text=quote(argument))
        ) from None
    return [Path(word).expanduser() for word in words]


def add_compose_commands(registry: CommandRegistry) -> None:
    """Register /file and /edit."""

    @registry.add(
        "file",
        usage=_("/file [PATH ...|clear]"),
        help=_("attach text files or images to your next message; alone, list them"),
        paths=True,
    )
    def _file(ctx: CommandContext, argument: str) -> None:
        attached = ctx.attachments
        counter = ctx.session.counter
        if not argument:
            if not attached:
                ctx.notices.hint(
                    _("nothing attached (/file PATH attaches a file to your next message)")
                )
                return
            for file in attached:
                kind = "" if file.kind is AttachmentKind.TEXT else f" ({file.mime})"
                ctx.notices.plain(
                    _("{name}{kind} · ~{tokens:,} tokens").format(
                        name=file.name, kind=kind, tokens=counter.file_tokens(file)
                    )
                )
            ctx.notices.hint(_("sent with your next message; /file clear drops them"))
            return
        if argument == "clear":
            count = len(attached)
            attached.clear()
            ctx.notices.info(
                ngettext("dropped {count} attachment", "dropped {count} attachments", count).format(
                    count=count
                )
                if count
                else _("nothing was attached")
            )
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
                _(
                    "together the attachments are about {total:,} tokens, more than the {room:,} "
                    "a message has room for: it would be refused (/file clear to start again)"
                ).format(total=total, room=room)
            )

    @registry.add(
        "edit",
        usage=_("/edit [TEXT]"),
        help=_("write your next message in $VISUAL/$EDITOR (also Ctrl-X Ctrl-E at the prompt)"),
    )
    def _edit(ctx: CommandContext, argument: str) -> None:
        text = ctx.edit(argument)
        if not text.strip():
            ctx.notices.hint(_("the editor left nothing to send"))
            return
        # Not sent yet: it comes back at the prompt, to send with Enter or edit further.
        ctx.next_input = text
