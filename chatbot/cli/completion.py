"""Shell completion through argcomplete: ``chatbot --completion bash|zsh|fish``.

The script the shell loads is argcomplete's; at each Tab it runs ``chatbot``
with ``_ARGCOMPLETE`` set, and :func:`complete` answers from the real parsers,
so flags, choices, persona names (yours included) and the sub-commands are
never out of date. argcomplete is imported only on those two paths: an
ordinary start never pays for it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TextIO

from chatbot.cli.parser import build_parser

__all__ = ["complete", "completion_script", "is_completing"]


def is_completing(environ: Mapping[str, str]) -> bool:
    """True when a shell's completion function is running us for candidates."""
    return "_ARGCOMPLETE" in environ


def completion_script(shell: str) -> str:
    """The script that registers completion for ``chatbot`` in ``shell``."""
    from argcomplete.shell_integration import shellcode

    return shellcode(["chatbot"], shell=shell)


def _persona_names(**_: Any) -> list[str]:
    from chatbot.settings.paths import AppPaths
    from chatbot.settings.personas import load_personas

    try:
        book = load_personas(user_file=AppPaths.from_env(os.environ).user_personas)
    except Exception:
        # A broken personas file: the chat will say so; Tab just offers nothing.
        return []
    return book.names()


def _first_word(subcommands: Sequence[str], **kwargs: Any) -> Sequence[str]:
    """Sub-commands, offered only as the first word (later words are the question)."""
    parsed = kwargs.get("parsed_args")
    if parsed is not None and getattr(parsed, "question", None):
        return ()
    return subcommands


def _words(comp_line: str, point: int) -> list[str]:
    return comp_line[:point].split()[1:]


def complete(
    *,
    environ: Mapping[str, str],
    subcommands: Sequence[str],
    subcommand_parser: Callable[[Sequence[str]], argparse.ArgumentParser | None],
    output: TextIO | None = None,
    exit_method: Callable[[int], object] = os._exit,
) -> None:
    """Print the candidates for the word being completed, in the shell's format, and exit."""
    import argcomplete

    line = environ.get("COMP_LINE", "")
    try:
        point = int(environ.get("COMP_POINT", len(line)))
    except ValueError:
        point = len(line)
    words = _words(line, point)
    # The word being typed is not yet a sub-command: only finished words decide.
    finished = words if line[:point].endswith(" ") else words[:-1]
    parser = subcommand_parser(finished)
    if parser is None:
        parser = build_parser()
        for action in parser._actions:
            if action.dest == "persona":
                action.completer = _persona_names  # type: ignore[attr-defined]
            elif action.dest == "question":
                action.completer = partial(_first_word, subcommands)  # type: ignore[attr-defined]
    argcomplete.autocomplete(parser, output_stream=output, exit_method=exit_method)
