"""The store from the shell: ``chatbot sessions``, ``export`` and ``import``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TextIO

from chatbot.cells import cell_width, cut, pad
from chatbot.cli.options import StoreOptions
from chatbot.errors import ConfigError
from chatbot.i18n import _
from chatbot.render.sanitize import sanitize
from chatbot.repl.commands.session_commands import render_export, session_rows, short_query_note
from chatbot.settings.paths import write_private
from chatbot.store.database import Store
from chatbot.store.export import from_json

__all__ = ["run_store_command"]


def run_store_command(args: StoreOptions, *, store: Store, stdout: TextIO, stderr: TextIO) -> int:
    """Run the parsed sub-command against ``store``; returns the exit status."""
    if args.command == "sessions":
        return _sessions(
            store,
            search=args.search,
            limit=args.limit,
            stdout=stdout,
            stderr=stderr,
            width=_terminal_width(stdout),
        )
    if args.command == "export":
        text = render_export(store.load_conversation(args.id, window_tokens=None), args.format)
        if args.output:
            write_private(Path(args.output).expanduser(), text)
            print(_("exported #{id} to {path}").format(id=args.id, path=args.output), file=stderr)
        else:
            stdout.write(text)
        return 0
    return _import(store, Path(args.file).expanduser(), stdout=stdout)


def _terminal_width(stream: TextIO) -> int | None:
    """The terminal's columns when ``stream`` is one; None for a pipe or a file."""
    try:
        if not stream.isatty():
            return None
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return None


def _sessions(
    store: Store,
    *,
    search: str | None,
    limit: int,
    stdout: TextIO,
    stderr: TextIO,
    width: int | None = None,
) -> int:
    """One line per conversation, in columns counted in cells; titles cut to the terminal."""
    snippets: list[str | None] = []
    if search:
        result = store.search_conversations(search, limit=limit)
        infos = [hit.info for hit in result.hits]
        snippets = [hit.snippet for hit in result.hits]
        if not result.complete:
            print(short_query_note(), file=stderr)
    else:
        infos = store.list_conversations(limit=limit)
    if not infos:
        print(_("no conversations found"), file=stderr)
        return 0
    rows = session_rows(infos)
    when_width = max(11, *(cell_width(row[1]) for row in rows))
    for index, (ident, when, persona, turns, title) in enumerate(rows):
        columns = (
            pad(ident, 4, right=True),
            pad(when, when_width),
            pad(sanitize(persona), 18),
            pad(turns, 3, right=True),
        )
        line = "  ".join((*columns, ""))
        shown = sanitize(title)
        if width is not None:
            # On a terminal a long title is cut to the line, never wrapped under the columns.
            shown = cut(shown, max(10, width - cell_width(line) - 1))
        print(line + shown, file=stdout)
        if index < len(snippets) and snippets[index]:
            # Under the title, where the text matched: which conversation was meant.
            snippet = sanitize(snippets[index] or "")
            if width is not None:
                snippet = cut(snippet, max(10, width - 7))
            print(f"      {snippet}", file=stdout)
    return 0


def _import(store: Store, path: Path, *, stdout: TextIO) -> int:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            _("cannot read {path}: {reason}").format(path=path, reason=exc.__class__.__name__)
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            _("{path} is not JSON (line {line}: {reason})").format(
                path=path, line=exc.lineno, reason=exc.msg
            )
        ) from None
    new_id = store.import_conversation(from_json(data, source=str(path)))
    print(
        _("imported as #{id} (continue it with: chatbot --session {id})").format(id=new_id),
        file=stdout,
    )
    return 0
