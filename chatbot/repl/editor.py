"""Compose a message in the user's editor: ``$VISUAL``, then ``$EDITOR``, then a sensible default.

Used by Ctrl-X Ctrl-E at the prompt and by ``/edit``. The text goes through a
private temporary file (0600, removed afterwards) ending in ``.md``, so editors
highlight Markdown.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence

from chatbot.errors import ChatbotError
from chatbot.i18n import _

__all__ = ["FALLBACK_EDITORS", "edit_text", "editor_command"]

#: Tried in order when neither $VISUAL nor $EDITOR is set (Debian's ``editor``
#: is the system's choice); Windows has Notepad.
FALLBACK_EDITORS = ("editor", "nano", "vim", "vi", "notepad")

Runner = Callable[[Sequence[str]], int]


def editor_command(
    environ: Mapping[str, str], *, which: Callable[[str], str | None] | None = None
) -> list[str] | None:
    """The editor to run, as argv, or None when there is none."""
    which = which or shutil.which
    for name in ("VISUAL", "EDITOR"):
        value = environ.get(name, "").strip()
        if value:
            # Like git and prompt-toolkit: the variable may carry flags ("code --wait").
            try:
                return shlex.split(value, posix=not sys.platform.startswith("win"))
            except ValueError:
                return [value]
    for candidate in FALLBACK_EDITORS:
        found = which(candidate)
        if found:
            return [found]
    return None


def _run(argv: Sequence[str]) -> int:
    return subprocess.call(list(argv))


def edit_text(text: str, *, environ: Mapping[str, str] | None = None, run: Runner = _run) -> str:
    """Open ``text`` in the editor and return what the user saved.

    Raises :class:`ChatbotError` (one line; the input stays as it was) when no
    editor is found or the editor fails.
    """
    env = os.environ if environ is None else environ
    command = editor_command(env)
    if command is None:
        raise ChatbotError(_("no editor found: set $EDITOR (for example EDITOR=nano)"))
    handle, name = tempfile.mkstemp(prefix="chatbot-", suffix=".md")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            # A text file ends with a newline: editors then show no "no newline" warning.
            file.write(text + "\n" if text and not text.endswith("\n") else text)
        try:
            status = run([*command, name])
        except OSError as exc:
            raise ChatbotError(
                _("cannot start the editor {name!r} ({reason}): check $VISUAL and $EDITOR").format(
                    name=command[0], reason=exc.strerror or exc
                )
            ) from None
        if status != 0:
            raise ChatbotError(
                _("the editor {name} exited with status {status}; the input is unchanged").format(
                    name=os.path.basename(command[0]), status=status
                )
            )
        with open(name, encoding="utf-8", errors="replace") as file:
            edited = file.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
    # Editors end files with a newline; the message should not.
    return edited[:-1] if edited.endswith("\n") else edited
