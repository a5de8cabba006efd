"""Completing file paths after ``/file``: quoted when a name has spaces, as a shell would.

``/file`` splits its argument like a shell (``shlex``), so a completion of a
name with a space comes back in double quotes, and a quote the user opened is
continued rather than doubled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prompt_toolkit.completion import Completion

__all__ = ["current_word", "path_completions"]

#: A folder with more entries than this is not listed in full while typing.
_MAX_ENTRIES = 500
#: What ``shlex.split`` would break a name at or strip from it.
_NEEDS_QUOTES = frozenset(" \t'\"\\")


def current_word(argument: str) -> tuple[str, str]:
    """(the path being typed, the quote it was opened with or "") at the end of ``argument``."""
    word: list[str] = []
    quote = ""
    for char in argument:
        if quote:
            if char == quote:
                quote = ""
            else:
                word.append(char)
        elif char in "\"'":
            quote = char
        elif char.isspace():
            word = []
        else:
            word.append(char)
    return "".join(word), quote


def _raw_length(argument: str) -> int:
    """How many characters at the end of ``argument`` the current word takes, quotes included."""
    index = len(argument)
    quote = ""
    start = 0
    for position, char in enumerate(argument):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char.isspace():
            start = position + 1
    return index - start


def path_completions(argument: str) -> Iterator[Completion]:
    """Files and folders that complete the last path in ``argument``."""
    word, quote = current_word(argument)
    expanded = os.path.expanduser(word)
    folder, prefix = os.path.split(expanded)
    typed_folder = word[: len(word) - len(prefix)]
    try:
        with os.scandir(folder or ".") as entries:
            names: list[tuple[str, bool]] = []
            for entry in entries:
                if not entry.name.startswith(prefix):
                    continue
                if entry.name.startswith(".") and not prefix.startswith("."):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                names.append((entry.name, is_dir))
                if len(names) >= _MAX_ENTRIES:
                    break
    except OSError:
        return
    replace = _raw_length(argument)
    for name, is_dir in sorted(names):
        path = typed_folder + name + ("/" if is_dir else "")
        opener = quote or ('"' if any(c in _NEEDS_QUOTES for c in path) else "")
        # A finished file name closes its quote; a folder leaves it open to go on typing.
        closer = opener if opener and not is_dir else ""
        yield Completion(
            f"{opener}{path}{closer}",
            start_position=-replace,
            display=name + ("/" if is_dir else ""),
        )
