"""The command line: parse arguments, run the app, turn domain errors into one line.

This is the only place that prints an error for a ChatbotError and picks the
exit status: 0 success, 1 API or network failure or a reply that is no answer (cut,
empty, tool calls only), 2 usage or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from chatbot.cli.knowledge_parser import build_knowledge_parser, knowledge_options
from chatbot.cli.options import model_options, run_options, serve_options, store_options
from chatbot.cli.parser import (
    build_model_parser,
    build_parser,
    build_serve_parser,
    build_store_parser,
)
from chatbot.errors import ChatbotError

if TYPE_CHECKING:
    from chatbot.app import App

__all__ = ["main"]


@dataclass(frozen=True, slots=True)
class _SubCommand:
    """A family of sub-commands: how to parse its arguments and how to run it."""

    parser: Callable[[], argparse.ArgumentParser]
    run: Callable[[App, argparse.Namespace], int]


_STORE = _SubCommand(
    build_store_parser, lambda app, args: app.run_store_command(store_options(args))
)
_MODELS = _SubCommand(
    build_model_parser, lambda app, args: app.run_model_command(model_options(args))
)
_KNOWLEDGE = _SubCommand(
    build_knowledge_parser,
    lambda app, args: app.run_knowledge_command(knowledge_options(args)),
)


def _run_serve(app: App, args: argparse.Namespace) -> int:
    """``chatbot serve``: the web chat."""
    from chatbot.web.serve import run_serve

    return run_serve(
        serve_options(args),
        environ=app.environ,
        stdin=app.stdin,
        stdout=app.stdout,
        stderr=app.stderr,
    )


_SERVE = _SubCommand(build_serve_parser, _run_serve)
#: The first word that makes ``chatbot WORD ...`` a sub-command rather than a question.
_SUBCOMMANDS: dict[str, _SubCommand] = {
    "sessions": _STORE,
    "export": _STORE,
    "import": _STORE,
    "pull": _MODELS,
    "models": _MODELS,
    "knowledge": _KNOWLEDGE,
    "serve": _SERVE,
}


def _subcommand(arguments: Sequence[str]) -> _SubCommand | None:
    """The sub-command of ``chatbot [--db PATH] WORD ...``, or None for a chat or question."""
    index = 0
    while index < len(arguments):
        word = arguments[index]
        if word == "--db":
            index += 2
        elif word.startswith("--db="):
            index += 1
        else:
            return _SUBCOMMANDS.get(word)
    return None


def _subcommand_parser(words: Sequence[str]) -> argparse.ArgumentParser | None:
    """The parser of the sub-command ``words`` start with, or None (for completion)."""
    command = _subcommand(words)
    return None if command is None else command.parser()


def _quiet_library_logs() -> None:
    """No library's log record reaches the terminal: with a handler on the root logger,
    Python's last-resort handler, which prints warnings on stderr, is never used."""
    import logging

    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())


def _without_trio() -> None:
    """Mark trio absent in the real command's process, which never runs it.

    The HTTP stack imports trio at its own import when trio is installed (a browser
    test's selenium brings it), which costs 0.15-0.25 s of every start; marked absent,
    it is skipped the way it is where trio is not installed at all.
    """
    if "trio" not in sys.modules:
        sys.modules["trio"] = None  # type: ignore[assignment]


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Entry point of the ``chatbot`` command; returns the exit status.

    Everything it touches is passed in (defaulting to the process's own), so
    tests run it in-process exactly as the shell does.
    """
    leaving_process = argv is None
    if leaving_process:
        _quiet_library_logs()
        _without_trio()
    arguments = list(sys.argv[1:] if argv is None else argv)
    err = stderr or sys.stderr
    if "_ARGCOMPLETE" in (os.environ if environ is None else environ):
        # A shell's Tab, through the script `--completion` printed: answer and leave.
        from chatbot.cli.completion import complete

        complete(
            environ=os.environ if environ is None else environ,
            subcommands=tuple(_SUBCOMMANDS),
            subcommand_parser=_subcommand_parser,
        )
        return 0
    _choose_language(os.environ if environ is None else environ)
    command = _subcommand(arguments)
    parser = command.parser() if command is not None else build_parser()
    try:
        # argparse prints --help, --version and usage errors itself: to our streams.
        with (
            contextlib.redirect_stdout(stdout or sys.stdout),
            contextlib.redirect_stderr(err),
        ):
            args = parser.parse_args(arguments)
    except SystemExit as exit_:
        # --help, --version, or a usage error argparse has already printed.
        return exit_.code if isinstance(exit_.code, int) else 2
    if getattr(args, "completion", None):
        from chatbot.cli.completion import completion_script

        print(completion_script(args.completion), end="", file=stdout or sys.stdout)
        return 0
    from chatbot.app import App

    app = App(
        environ=dict(os.environ if environ is None else environ),
        stdin=stdin,
        stdout=stdout,
        stderr=err,
    )
    try:
        if command is not None:
            return command.run(app, args)
        return app.run(run_options(args))
    except ChatbotError as exc:
        app.report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`chatbot ... | head`): stop quietly, like cat does.
        if leaving_process:
            _silence_stdout()
        return 0
    finally:
        app.close()
        if leaving_process:
            # Leaving the process: skip the interpreter's final collection over
            # the SDK's thousands of objects, which costs ~0.3 s per run.
            gc.freeze()


def _choose_language(environ: Mapping[str, str]) -> None:
    """Speak the user's language from here on (the catalogue loads at its first use)."""
    from chatbot.i18n import set_language
    from chatbot.settings.language import language_for
    from chatbot.settings.paths import AppPaths

    set_language(language_for(environ, paths=AppPaths.from_env(environ)))


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
