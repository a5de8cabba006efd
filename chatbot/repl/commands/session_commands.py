"""Slash commands over the conversation store: list, load, rename, delete, export."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from chatbot.cells import cell_width, cut
from chatbot.conversation.attachments import describe_attachments
from chatbot.errors import ChatbotError
from chatbot.i18n import _, ngettext, quote
from chatbot.render.sanitize import sanitize
from chatbot.repl.commands.registry import CommandContext, CommandRegistry
from chatbot.settings.paths import write_private
from chatbot.store.database import Store
from chatbot.store.export import to_json, to_markdown
from chatbot.store.records import ConversationInfo, StoredConversation
from chatbot.store.search import MIN_INDEXED_CHARS, SHORT_QUERY_SCAN
from chatbot.store.store_journal import StoreJournal, resume

__all__ = [
    "add_store_commands",
    "describe_age",
    "session_rows",
    "short_query_note",
    "show_recent",
    "untitled",
]


def short_query_note() -> str:
    """Said when a search was too short for the index (see chatbot.store.search)."""
    return _(
        "searched titles and the newest {count:,} messages only: "
        "{minimum} or more characters search everything"
    ).format(count=SHORT_QUERY_SCAN, minimum=MIN_INDEXED_CHARS)


def describe_age(then: float, *, now: float | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', '2 d ago', or a date."""
    seconds = max(0.0, (time.time() if now is None else now) - then)
    if seconds < 60:
        return _("just now")
    if seconds < 3600:
        return _("{count} min ago").format(count=int(seconds // 60))
    if seconds < 86400:
        return _("{count} h ago").format(count=int(seconds // 3600))
    if seconds < 30 * 86400:
        return _("{count} d ago").format(count=int(seconds // 86400))
    # A date in the locale's usual order: 2026-03-07 in English, 2026/03/07 in Japanese.
    return time.strftime(_("%Y-%m-%d"), time.localtime(then))


def untitled() -> str:
    return _("(untitled)")


def session_rows(infos: list[ConversationInfo]) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            str(info.id),
            describe_age(info.updated_at),
            info.persona,
            str(info.turns),
            info.title or untitled(),
        )
        for info in infos
    ]


def render_export(stored: StoredConversation, fmt: str) -> str:
    if fmt in ("md", "markdown"):
        # A transcript is for reading: model text must not become terminal control
        # when it is printed or viewed. JSON keeps the exact text for round trips.
        text = sanitize(to_markdown(stored))
        return text if text.endswith("\n") else text + "\n"
    if fmt == "json":
        return json.dumps(to_json(stored), ensure_ascii=False, indent=2) + "\n"
    raise ChatbotError(
        _("unknown export format {format} (use md or json)").format(format=quote(fmt))
    )


def show_recent(ctx: CommandContext, stored: StoredConversation, *, exchanges: int = 3) -> None:
    """Render the last few exchanges of a resumed conversation."""
    from rich.rule import Rule
    from rich.text import Text

    from chatbot.conversation.messages import Role
    from chatbot.conversation.references import source_lines
    from chatbot.render.markdown_stream import reply_markdown

    messages = [m for m in stored.messages if not m.summary]
    starts = [i for i, m in enumerate(messages) if m.role is Role.USER]
    shown = messages[starts[-exchanges] :] if len(starts) >= exchanges else messages
    title = stored.info.title or untitled()
    # Text, not a string: a title is data and must not be parsed as rich markup.
    ctx.console.print(Rule(Text(f"#{stored.info.id} {sanitize(title)}"), style="dim"))
    # Older messages may not even be loaded (a long conversation is resumed from a
    # window); they stay in the store and in /export.
    hidden = stored.earlier + len(messages) - len(shown)
    if hidden:
        ctx.notices.hint(
            ngettext(
                "… {count:,} earlier message (/export has them all)",
                "… {count:,} earlier messages (/export has them all)",
                hidden,
            ).format(count=hidden)
        )
    for message in shown:
        if message.role is Role.USER:
            ctx.notices.plain("› " + sanitize(message.content))
            if message.attachments:
                ctx.notices.hint(
                    _("  attached: {files}").format(files=describe_attachments(message.attachments))
                )
        else:
            ctx.console.print(reply_markdown(sanitize(message.content)))
            for line in source_lines(message.sources):
                ctx.notices.hint(_("  source {line}").format(line=line))
    ctx.console.print(Rule(style="dim"))


def add_store_commands(
    registry: CommandRegistry,
    *,
    store: Store,
    journal: StoreJournal,
    confirm: Callable[[str], bool],
) -> None:
    """Register /sessions, /load, /rename, /delete and /export."""

    def parse_id(argument: str, usage: str) -> int:
        text = argument.strip().lstrip("#")
        if not text.isdigit():
            raise ChatbotError(_("usage: {usage}").format(usage=usage))
        return int(text)

    def current_id() -> int:
        if journal.conversation_id is None:
            raise ChatbotError(_("this conversation has no messages yet"))
        return journal.conversation_id

    @registry.add(
        "sessions", usage=_("/sessions [TEXT]"), help=_("recent conversations, or search them")
    )
    def _sessions(ctx: CommandContext, argument: str) -> None:
        from rich.table import Table
        from rich.text import Text

        snippets: list[str | None] = []
        if argument:
            result = store.search_conversations(argument, limit=20)
            infos = [hit.info for hit in result.hits]
            snippets = [hit.snippet for hit in result.hits]
            if not result.complete:
                ctx.notices.hint(short_query_note())
        else:
            infos = store.list_conversations(limit=20)
        if not infos:
            ctx.notices.hint(_("no conversations found") if argument else _("no conversations yet"))
            return
        table = Table(box=None, header_style="bold", pad_edge=False)
        headers = (_("id"), _("when"), _("persona"), _("turns"), _("title"))
        rows = [
            ("*" if row[0] == str(journal.conversation_id) else "") + row[0]
            for row in session_rows(infos)
        ]
        cells = [(marked, *(sanitize(c) for c in row[1:])) for marked, row in zip(
            rows, session_rows(infos), strict=True
        )]  # fmt: skip
        # One line per conversation: the first columns keep their width and the title
        # gets the rest of the line, cut with "…" by cells (a Japanese title has no
        # spaces to wrap at, and must not be cut through a character).
        widths = [max(cell_width(h), *(cell_width(r[i]) for r in cells)) for i, h in
                  enumerate(headers[:4])]  # fmt: skip
        room = max(10, ctx.console.width - sum(widths) - 2 * len(widths))
        for index, column in enumerate(headers):
            table.add_column(
                column,
                no_wrap=True,
                min_width=widths[index] if index < 4 else None,
                justify="right" if index in (0, 3) else "left",
            )
        for index, row in enumerate(cells):
            title = Text(cut(row[4], room))
            if index < len(snippets) and snippets[index]:
                # Where the text matched, dimmed under the title.
                title.append("\n" + cut(sanitize(snippets[index] or ""), room), style="dim")
            table.add_row(*(Text(cell) for cell in row[:4]), title)
        ctx.console.print(table)

    @registry.add("load", usage=_("/load ID"), help=_("continue a stored conversation"))
    def _load(ctx: CommandContext, argument: str) -> None:
        conversation_id = parse_id(argument, _("/load ID"))
        stored = store.load_conversation(conversation_id)
        resume(ctx.session, stored, book=ctx.personas, journal=journal)
        show_recent(ctx, stored)

    @registry.add("rename", usage=_("/rename TITLE"), help=_("rename this conversation"))
    def _rename(ctx: CommandContext, argument: str) -> None:
        if not argument:
            raise ChatbotError(_("usage: {usage}").format(usage=_("/rename TITLE")))
        store.rename_conversation(current_id(), argument)
        ctx.notices.info(_("renamed to {title}").format(title=quote(argument)))

    @registry.add(
        "delete", usage=_("/delete ID"), help=_("delete a stored conversation (asks first)")
    )
    def _delete(ctx: CommandContext, argument: str) -> None:
        conversation_id = parse_id(argument, _("/delete ID"))
        stored = store.load_conversation(conversation_id)
        title = stored.info.title or untitled()
        question = _("Delete #{id} {title} for good? [y/N] ").format(
            id=conversation_id, title=quote(title)
        )
        if not confirm(question):
            ctx.notices.hint(_("kept"))
            return
        store.delete_conversation(conversation_id)
        if journal.conversation_id == conversation_id:
            ctx.session.clear()
        ctx.notices.info(_("deleted #{id}").format(id=conversation_id))

    @registry.add(
        "export",
        usage=_("/export md|json [PATH]"),
        help=_("save this conversation as Markdown or JSON"),
        arguments=lambda: ["md", "json"],
    )
    def _export(ctx: CommandContext, argument: str) -> None:
        fmt, _space, target = argument.partition(" ")
        fmt = fmt.strip().lower() or "md"
        conversation_id = current_id()
        text = render_export(store.load_conversation(conversation_id, window_tokens=None), fmt)
        suffix = "json" if fmt == "json" else "md"
        path = Path(target.strip() or f"chatbot-{conversation_id}.{suffix}").expanduser()
        write_private(path, text)
        ctx.notices.info(_("exported to {path}").format(path=path))
