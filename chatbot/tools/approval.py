"""Asking the user before a tool runs.

Every shell command is asked about, every time. An MCP tool is asked about
unless its server is trusted (``trust = true``) or the user answered "always"
for that tool earlier in the session. ``--yes`` approves everything. With no
way to ask (one-shot mode without a terminal) a call is refused, and the model
is told so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Literal

from chatbot.i18n import _, parse_answer
from chatbot.tools.spec import ToolSpec

__all__ = ["Approver", "Asker", "Verdict", "terminal_asker"]

#: Shows a question and returns the answer typed; Ctrl-C raises KeyboardInterrupt.
Asker = Callable[[str], str]


#: "no terminal": nobody to ask (one-shot mode with no terminal and no --yes).
Verdict = Literal["run", "declined", "no terminal"]


class Approver:
    """Decides whether a call may run, asking through ``ask`` when it must."""

    def __init__(self, *, ask: Asker | None, assume_yes: bool = False) -> None:
        #: How to ask; set once the chat's prompt exists. None: nobody to ask.
        self.ask = ask
        self.assume_yes = assume_yes
        #: Tools the user approved for the rest of the session.
        self.always: set[str] = set()

    def needs_asking(self, spec: ToolSpec, *, trusted: bool) -> bool:
        return not (self.assume_yes or trusted or spec.name in self.always)

    def decide(self, spec: ToolSpec, *, trusted: bool) -> Verdict:
        """ "run", "declined" or "no terminal"; KeyboardInterrupt from the asker propagates."""
        if not self.needs_asking(spec, trusted=trusted):
            return "run"
        if self.ask is None:
            return "no terminal"
        builtin = spec.server is None
        if builtin:
            question = _("run? [y/N] ")
        else:
            question = _("run? [y/N/a = always this tool, this session] ")
        try:
            answer = parse_answer(self.ask(question))
        except EOFError:
            return "declined"
        if answer == "yes":
            return "run"
        # The shell is asked about every time: "always" is not offered for it.
        if not builtin and answer == "always":
            self.always.add(spec.name)
            return "run"
        return "declined"


def terminal_asker() -> Asker | None:
    """An asker on the controlling terminal (``/dev/tty``), or None when there is none.

    One-shot mode may have stdin and stdout on pipes and still a person at the
    terminal: the question goes there, never into the piped output.
    """
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    os.close(fd)
    handles: list[IO[str]] = []

    def ask(question: str) -> str:
        if not handles:
            # Two handles: a terminal cannot seek, which a read-write text file needs.
            handles.append(open("/dev/tty", encoding="utf-8", errors="replace"))  # noqa: SIM115
            handles.append(open("/dev/tty", "w", encoding="utf-8"))  # noqa: SIM115
        reader, writer = handles
        writer.write(question)
        writer.flush()
        line = reader.readline()
        if not line:
            raise EOFError
        return line

    return ask
