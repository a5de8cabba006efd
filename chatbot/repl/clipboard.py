"""Copy text to the system clipboard with whatever tool the desktop provides."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping

from chatbot.errors import ClipboardUnavailable

__all__ = ["copy_to_clipboard", "find_clipboard_command"]


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


def copy_to_clipboard(text: str, *, command: list[str] | None = None) -> None:
    """Put ``text`` on the clipboard, or raise ClipboardUnavailable."""
    command = command or find_clipboard_command()
    if command is None:
        raise ClipboardUnavailable(
            "no clipboard tool found (install wl-clipboard, xclip or xsel, or select the text "
            "with the mouse)"
        )
    try:
        subprocess.run(command, input=text.encode(), check=True, timeout=5, capture_output=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClipboardUnavailable(f"{command[0]} failed ({exc.__class__.__name__})") from None
