"""The store from the shell: ``chatbot sessions``, ``export`` and ``import``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from chatbot.cli.options import StoreOptions
from chatbot.errors import ConfigError
from chatbot.render.sanitize import sanitize
from chatbot.repl.commands.session_commands import SHORT_QUERY_NOTE, render_export, session_rows
from chatbot.settings.paths import write_private
from chatbot.store.database import Store
from chatbot.store.export import from_json

__all__ = ["run_store_command"]


def run_store_command(args: StoreOptions, *, store: Store, stdout: TextIO, stderr: TextIO) -> int:
    """Run the parsed sub-command against ``store``; returns the exit status."""
    if args.command == "sessions":
        return _sessions(store, search=args.search, limit=args.limit, stdout=stdout, stderr=stderr)
    if args.command == "export":
        text = render_export(store.load_conversation(args.id, window_tokens=None), args.format)
        if args.output:
            write_private(Path(args.output).expanduser(), text)
            print(f"exported #{args.id} to {args.output}", file=stderr)
        else:
            stdout.write(text)
        return 0
    return _import(store, Path(args.file).expanduser(), stdout=stdout)


def _sessions(
    store: Store, *, search: str | None, limit: int, stdout: TextIO, stderr: TextIO
) -> int:
    snippets: list[str | None] = []
    if search:
        result = store.search_conversations(search, limit=limit)
        infos = [hit.info for hit in result.hits]
        snippets = [hit.snippet for hit in result.hits]
        if not result.complete:
            print(SHORT_QUERY_NOTE, file=stderr)
    else:
        infos = store.list_conversations(limit=limit)
    if not infos:
        print("no conversations found", file=stderr)
        return 0
    for index, (ident, when, persona, turns, title) in enumerate(session_rows(infos)):
        columns = (ident.rjust(4), when.ljust(11), sanitize(persona).ljust(18), turns.rjust(3))
        print("  ".join((*columns, sanitize(title))), file=stdout)
        if index < len(snippets) and snippets[index]:
            # Under the title, where the text matched: which conversation was meant.
            print(f"      {sanitize(snippets[index] or '')}", file=stdout)
    return 0


def _import(store: Store, path: Path, *, stdout: TextIO) -> int:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc.__class__.__name__}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not JSON (line {exc.lineno}: {exc.msg})") from None
    new_id = store.import_conversation(from_json(data, source=str(path)))
    print(f"imported as #{new_id} (continue it with: chatbot --session {new_id})", file=stdout)
    return 0
