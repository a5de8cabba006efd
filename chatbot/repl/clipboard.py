"""Copy text out: the desktop's clipboard tool, or the terminal itself (OSC 52).

Over SSH there is no clipboard tool that reaches the user's desktop, but the
terminal is theirs: the OSC 52 escape sequence asks it to set its clipboard.
tmux, kitty, WezTerm, iTerm2, foot, Windows Terminal and xterm (when allowed)
understand it, as Neovim's clipboard provider relies on. Only ``/copy`` writes
it, straight to the terminal; model output never can (see render.sanitize).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

from chatbot.errors import ClipboardUnavailable
from chatbot.i18n import N_, _, gettext

__all__ = ["OSC52", "copy_to_clipboard", "find_clipboard_command", "osc52_sequences"]

#: How a copy through the terminal is described to the user.
OSC52 = N_("the terminal (OSC 52)")


def find_clipboard_command(
    *,
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    platform: str = sys.platform,
) -> list[str] | None:
    """The command that writes stdin to the clipboard here, or None."""
    env = os.environ if environ is None else environ
    candidates: list[list[str]] = []
    if platform == "darwin":
        candidates.append(["pbcopy"])
    elif platform.startswith("win") or platform == "cygwin":
        candidates.append(["clip.exe"])
    else:
        if env.get("WAYLAND_DISPLAY"):
            candidates.append(["wl-copy"])
        if env.get("DISPLAY"):
            candidates += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
        candidates.append(["clip.exe"])  # WSL
    for command in candidates:
        if which(command[0]):
            return command
    return None


def osc52_sequences(text: str, *, environ: Mapping[str, str]) -> str:
    """The escape sequence(s) that put ``text`` on the terminal's clipboard.

    Inside tmux the sequence is also sent wrapped in tmux's passthrough
    (``ESC P tmux; ... ESC \\``, each ESC inside doubled), which reaches the
    outer terminal when tmux has ``allow-passthrough on``; the plain one is for
    tmux's own ``set-clipboard on``.
    """
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    plain = f"\x1b]52;c;{payload}\x07"
    if not environ.get("TMUX"):
        return plain
    wrapped = "\x1bPtmux;" + plain.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return plain + wrapped


def _write_osc52(text: str, *, terminal: TextIO, environ: Mapping[str, str]) -> str:
    try:
        terminal.write(osc52_sequences(text, environ=environ))
        terminal.flush()
    except (OSError, ValueError) as exc:
        raise ClipboardUnavailable(
            _("cannot write to the terminal ({name})").format(name=exc.__class__.__name__)
        ) from None
    return gettext(OSC52)


def copy_to_clipboard(
    text: str,
    *,
    command: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    terminal: TextIO | None = None,
    which: Callable[[str], str | None] = shutil.which,
    platform: str = sys.platform,
) -> str:
    """Put ``text`` on the clipboard; returns the way it went ("xclip", :data:`OSC52`).

    ``terminal`` is the user's terminal (the console's file when it is a tty);
    without one OSC 52 is not tried. Over SSH (``SSH_TTY``) OSC 52 comes first,
    since a clipboard tool there would fill the remote machine's clipboard.
    Raises ClipboardUnavailable when no way works.
    """
    env = os.environ if environ is None else environ
    if terminal is not None and env.get("SSH_TTY"):
        return _write_osc52(text, terminal=terminal, environ=env)
    command = command or find_clipboard_command(environ=env, which=which, platform=platform)
    failure = _("no clipboard tool found (install wl-clipboard, xclip or xsel)")
    if command is not None:
        try:
            subprocess.run(command, input=text.encode(), check=True, timeout=5, capture_output=True)
            return command[0]
        except (OSError, subprocess.SubprocessError) as exc:
            failure = f"{command[0]} failed ({exc.__class__.__name__})"
    if terminal is not None:
        return _write_osc52(text, terminal=terminal, environ=env)
    raise ClipboardUnavailable(
        _("{failure}, and there is no terminal to ask: select the text").format(failure=failure)
    )
