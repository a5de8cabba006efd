"""The command line: parse arguments, run the app, turn domain errors into one line.

This is the only place that prints an error for a ChatbotError and picks the
exit status: 0 success, 1 API or network failure or a reply that is no answer (cut,
empty, tool calls only), 2 usage or configuration.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from chatbot.cli.options import run_options, store_options
from chatbot.cli.parser import build_parser, build_store_parser
from chatbot.errors import ChatbotError

__all__ = ["main"]

_SUBCOMMANDS = ("sessions", "export", "import")


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
    arguments = list(sys.argv[1:] if argv is None else argv)
    err = stderr or sys.stderr
    if "_ARGCOMPLETE" in (os.environ if environ is None else environ):
        # A shell's Tab, through the script `--completion` printed: answer and leave.
        from chatbot.cli.completion import complete

        complete(
            environ=os.environ if environ is None else environ, is_store_command=_is_store_command
        )
        return 0
    store_command = _is_store_command(arguments)
    parser = build_store_parser() if store_command else build_parser()
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
        if store_command:
            return app.run_store_command(store_options(args))
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


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
