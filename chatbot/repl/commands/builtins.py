"""Slash commands: a small registry of named handlers.

Each handler gets the :class:`CommandContext` (everything a command may touch,
passed in) and the text after the command name. Other modules add their own
commands with :meth:`CommandRegistry.add`, so the store, compaction and the
local server slot in without touching the REPL loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from chatbot.cells import cell_width, pad, wrap
from chatbot.conversation.attachments import format_size
from chatbot.conversation.outcome import CONTINUE_PROMPT
from chatbot.conversation.session import ChatSession
from chatbot.errors import ChatbotError, ClipboardUnavailable
from chatbot.i18n import _, gettext, ngettext
from chatbot.render.sanitize import sanitize
from chatbot.repl.codeblocks import code_blocks
from chatbot.repl.commands.model_command import add_model_command
from chatbot.repl.commands.registry import (
    Command,
    CommandContext,
    CommandRegistry,
    Exit,
)
from chatbot.servers.server import Server
from chatbot.settings.catalogue import Price, cost_of, format_dollars
from chatbot.settings.personas import PersonaBook

if TYPE_CHECKING:
    from datetime import datetime


__all__ = ["CONTINUE_PROMPT", "builtin_commands", "usage_lines"]


def builtin_commands(*, personas: PersonaBook, server: Server) -> CommandRegistry:
    """The commands every chat has; ``/model`` asks ``server``."""
    registry = CommandRegistry()

    @registry.add("help", usage="/help", help=_("show commands and keys"))
    def _help(ctx: CommandContext, _argument: str) -> None:
        from rich.text import Text

        # Two columns laid out by cells: each description wrapped to what is left of the
        # line, between words or Japanese characters (rich's table would cut a Japanese
        # description, which has no spaces, with "…").
        commands = list(registry)
        column = max(cell_width(command.usage) for command in commands) + 2
        room = max(20, ctx.console.width - column)
        for command in commands:
            # Text, not markup: "[show|fold|hide]" would read as a style tag and vanish.
            row = Text()
            row.append(pad(command.usage, column), style="bold cyan")
            row.append(("\n" + " " * column).join(wrap(command.help, room)))
            ctx.console.print(row, soft_wrap=True)
        keys = _(
            "Keys: Enter sends; Alt-Enter (or Esc then Enter, or Ctrl-J) adds a new line; "
            "pasted text stays one message; Ctrl-X Ctrl-E edits the input in $EDITOR; "
            "Tab completes commands, and file paths after /file; Up recalls earlier input; "
            "Ctrl-C clears the line or stops a reply; Ctrl-D or /exit quits. "
            "The same chat in a browser: chatbot serve."
        )
        # Wrapped here, by cells and between words (or Japanese characters), not by the
        # terminal in the middle of a word.
        for line in wrap(keys, ctx.console.width):
            ctx.notices.hint(line)

    @registry.add(
        "persona",
        usage=_("/persona [NAME]"),
        help=_("switch persona (keeps the history), or list them"),
        arguments=personas.names,
    )
    def _persona(ctx: CommandContext, argument: str) -> None:
        if not argument:
            current = ctx.session.persona.name
            for persona in ctx.personas:
                marker = "*" if persona.name == current else " "
                description = gettext(persona.description) if persona.description else ""
                ctx.notices.plain(f"{marker} {pad(persona.name, 20)} {description}")
            return
        persona = ctx.personas.get(argument)
        ctx.session.switch_persona(persona)
        params = ctx.session.params
        ctx.notices.info(
            _("persona: {name} (model {model})").format(name=persona.name, model=params.model)
        )
        if persona.greeting:
            ctx.notices.hint(gettext(persona.greeting))

    @registry.add("system", usage=_("/system TEXT"), help=_("use TEXT as an ad-hoc system prompt"))
    def _system(ctx: CommandContext, argument: str) -> None:
        if not argument:
            ctx.notices.plain(ctx.session.conversation.system_prompt)
            return
        ctx.session.switch_persona(ctx.personas.ad_hoc(argument, base=ctx.session.persona))
        ctx.notices.info(_("system prompt set (persona: custom)"))

    add_model_command(registry, server=server)

    @registry.add("clear", usage="/clear", help=_("start a new conversation"))
    def _clear(ctx: CommandContext, _argument: str) -> None:
        ctx.session.clear()
        ctx.notices.info(_("new conversation"))

    @registry.add(
        "retry",
        usage="/retry",
        help=_("regenerate the last reply (also one that was cut, empty or failed)"),
    )
    def _retry(ctx: CommandContext, _argument: str) -> None:
        ctx.run_turn(lambda renderer: ctx.session.retry(renderer=renderer))

    @registry.add(
        "continue",
        usage="/continue",
        help=_("ask the model to go on after a cut reply (max_tokens, or a stream that stopped)"),
    )
    def _continue(ctx: CommandContext, _argument: str) -> None:
        if ctx.session.conversation.last_reply() is None:
            raise ChatbotError(_("there is no reply to continue yet"))
        # No new search: the continuation goes on from the same passages.
        ctx.run_turn(
            lambda renderer: ctx.session.send(CONTINUE_PROMPT, renderer=renderer, look_up=False)
        )

    @registry.add("undo", usage="/undo", help=_("drop the last question and its reply"))
    def _undo(ctx: CommandContext, _argument: str) -> None:
        removed = ctx.session.undo()
        if not removed:
            ctx.notices.hint(_("nothing to undo"))
        else:
            ctx.notices.info(
                ngettext(
                    "removed the last exchange ({count} message)",
                    "removed the last exchange ({count} messages)",
                    len(removed),
                ).format(count=len(removed))
            )

    @registry.add(
        "compact",
        usage="/compact",
        help=_("summarise all but the last two turns to free the context"),
    )
    def _compact(ctx: CommandContext, _argument: str) -> None:
        from chatbot.errors import CompactionFailed

        ctx.notices.hint(_("summarising…"))
        try:
            turns = ctx.session.compact()
        except CompactionFailed as exc:
            raise ChatbotError(_("could not summarise: {reason}").format(reason=exc)) from None
        if turns:
            ctx.notices.info(
                ngettext(
                    "summarised {count} turn; the summary now stands in for it "
                    "(the original stays in the store and exports)",
                    "summarised {count} turns; the summary now stands in for them "
                    "(the originals stay in the store and exports)",
                    turns,
                ).format(count=turns)
            )
        else:
            ctx.notices.hint(_("nothing to summarise yet"))

    @registry.add(
        "usage", usage="/usage", help=_("tokens and cost: this session, today and this month")
    )
    def _usage(ctx: CommandContext, _argument: str) -> None:
        from datetime import datetime

        for line in usage_lines(ctx.session, now=datetime.now()):
            ctx.notices.plain(line)

    @registry.add(
        "copy",
        usage="/copy [N]",
        help=_("copy the last answer (not its thinking), or code block N (over SSH: OSC 52)"),
    )
    def _copy(ctx: CommandContext, argument: str) -> None:
        reply = ctx.session.conversation.last_reply()
        if reply is None or not reply.content:
            ctx.notices.hint(_("no reply to copy yet"))
            return
        # What was shown: a reply's escape sequences never reach the clipboard either.
        content = sanitize(reply.content)
        text = content
        what = _("the last reply")
        if argument:
            blocks = code_blocks(content)
            if not argument.isdigit() or not 1 <= int(argument) <= len(blocks):
                count = len(blocks)
                raise ChatbotError(
                    _("/copy takes a code block number from 1 to {count}").format(count=count)
                    if count
                    else _("the last reply has no code blocks")
                )
            text = blocks[int(argument) - 1]
            what = _("code block {number}").format(number=argument)
        try:
            how = ctx.copy(text)
        except ClipboardUnavailable as exc:
            raise ChatbotError(_("cannot copy: {reason}").format(reason=exc)) from None
        size = format_size(len(text.encode("utf-8")))
        if how:
            line = _("copied {what} ({size}) via {how}").format(what=what, size=size, how=how)
        else:
            line = _("copied {what} ({size})").format(what=what, size=size)
        ctx.notices.info(line)

    from chatbot.repl.commands.think_commands import add_thinking_commands

    add_thinking_commands(registry)

    @registry.add("exit", usage="/exit", help=_("leave (also: exit, quit, Ctrl-D)"))
    def _exit(ctx: CommandContext, _argument: str) -> None:
        raise Exit

    registry.commands["quit"] = Command(
        name="quit", usage="/quit", help=_("leave"), handler=registry.commands["exit"].handler
    )
    from chatbot.repl.commands.compose_commands import add_compose_commands

    add_compose_commands(registry)
    from chatbot.repl.commands.knowledge_commands import add_knowledge_commands

    add_knowledge_commands(registry)
    return registry


_Row = tuple[str, str, str, str, str]


def usage_lines(session: ChatSession, *, now: datetime) -> list[str]:
    """Tokens and cost of this session, today and this month, and the context fill.

    ``now`` is local time: today starts at local midnight, the month on its first day.
    Costs use the price table with the user's prices first; ``~`` marks estimates.
    """
    usage = session.usage
    prices = session.config.prices
    # The server did not report the last request's usage: the totals are incomplete.
    estimated = usage.estimated_requests > 0
    rows: list[_Row] = [("", _("model"), _("prompt"), _("completion"), _("cost"))]
    session_tokens = {model: (p, c) for model, (p, c) in usage.by_model.items()}
    if not session_tokens and usage.requests:
        rows.append(
            (_("this session"), session.params.model, "", "", _("not reported by the server"))
        )
    else:
        rows += _usage_rows(_("this session"), session_tokens, prices=prices, estimated=estimated)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    periods = ((_("today"), midnight), (_("this month"), midnight.replace(day=1)))
    kept = True
    for label, start in periods:
        history = session.journal.usage_since(since=start.timestamp())
        if history is None:
            kept = False
            break
        rows += _usage_rows(label, history, prices=prices, estimated=False)
    lines = _aligned(rows)
    if not kept:
        lines.append(_("today and this month: not kept (--no-store)"))
    if usage.thinking_tokens:
        mark = "~" if usage.thinking_estimated else ""
        lines.append(
            _("thinking: {mark}{tokens:,} of this session's completion tokens").format(
                mark=mark, tokens=usage.thinking_tokens
            )
        )
    lines.append(_context_line(session))
    from chatbot.repl.commands.knowledge_commands import knowledge_status

    knowledge = knowledge_status(session)
    if knowledge:
        lines.append(knowledge)
    return lines


def _usage_rows(
    label: str,
    tokens: Mapping[str, tuple[int, int]],
    *,
    prices: Mapping[str, Price],
    estimated: bool,
) -> list[_Row]:
    if not tokens:
        return [(label, _("nothing yet"), "", "", "")]
    mark = "~" if estimated else ""
    rows: list[_Row] = []
    for model, (prompt, completion) in tokens.items():
        cost = cost_of({model: (prompt, completion)}, prices=prices)
        rows.append(
            (
                "" if rows else label,
                model,
                f"{mark}{prompt:,}",
                f"{mark}{completion:,}",
                _("no price known") if cost.unpriced else mark + format_dollars(cost.dollars),
            )
        )
    if len(tokens) > 1:
        total = cost_of(tokens, prices=prices)
        if len(total.unpriced) == len(tokens):
            shown = _("no price known")
        else:
            # Models without a price are missing from the sum: it is a lower bound.
            shown = ("≥" if total.unpriced else mark) + format_dollars(total.dollars)
        rows.append(
            (
                "",
                _("all models"),
                f"{mark}{sum(p for p, _ in tokens.values()):,}",
                f"{mark}{sum(c for _, c in tokens.values()):,}",
                shown,
            )
        )
    return rows


def _aligned(rows: list[_Row]) -> list[str]:
    """Columns padded to their widest cell; token counts right-aligned."""
    widths = [max(cell_width(row[i]) for row in rows) for i in range(5)]
    lines = []
    for row in rows:
        cells = [
            pad(row[0], widths[0]),
            pad(row[1], widths[1]),
            pad(row[2], widths[2], right=True),
            pad(row[3], widths[3], right=True),
            row[4],
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _context_line(session: ChatSession) -> str:
    fill = session.context_fill()
    if fill.measured:
        line = _(
            "context: {mark}{tokens:,} of {window:,} tokens in the last request ({fraction:.0%})"
        )
    else:
        line = _(
            "context: {mark}{tokens:,} of {window:,} tokens for the next request ({fraction:.0%})"
        )
    line = line.format(
        mark=fill.mark, tokens=fill.tokens, window=fill.window, fraction=fill.fraction
    )
    if session.dropped_turns:
        line += ngettext(
            ", {count} oldest turn left out",
            ", {count} oldest turns left out",
            session.dropped_turns,
        ).format(count=session.dropped_turns)
    return line
