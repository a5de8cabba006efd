"""A pseudo-terminal driver: the installed ``chatbot`` as a person at a keyboard uses it.

pexpect runs the real console script in a 30x100 terminal. A real terminal answers
prompt-toolkit's cursor-position requests, and prompt-toolkit only draws the bottom
toolbar once it knows where the cursor is, so :class:`Terminal` answers them too.
Enter is sent as ``\\r``: the input is multi-line and Enter is bound to carriage return.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pexpect

from tests.support.helpers import chatbot_executable

if TYPE_CHECKING:
    from fakeserver import FakeOpenAIServer

__all__ = [
    "COLUMNS",
    "ROWS",
    "TOOLBAR",
    "TOOLBAR_JA",
    "Terminal",
    "has_colour",
    "strip_ansi",
    "terminal_env",
]

ROWS, COLUMNS = 30, 100
#: The end of the bottom toolbar, drawn whenever the prompt is ready for input.
TOOLBAR = re.compile(r"session ~?[\d,]+ tokens")
#: The same, when the chatbot speaks Japanese.
TOOLBAR_JA = re.compile(r"累計 ~?[\d,]+ トークン")
_CPR_REQUEST = "\x1b[6n"
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_EXPECT_SECONDS = 15.0


def strip_ansi(text: str) -> str:
    """What a person reads: the text without escape sequences and carriage returns."""
    return _ANSI.sub("", text).replace("\r", "")


def has_colour(output: str) -> bool:
    """True if any SGR sequence in ``output`` sets a foreground or background colour."""
    for match in _SGR.finditer(output):
        for raw in match.group(1).split(";"):
            code = int(raw) if raw else 0
            if code in (38, 48) or 30 <= code <= 37 or 40 <= code <= 47:
                return True
            if 90 <= code <= 97 or 100 <= code <= 107:
                return True
    return False


def terminal_env(server: FakeOpenAIServer | None, **extra: str) -> dict[str, str]:
    """The isolated test environment in an xterm, pointed at ``server`` when given."""
    pointed = {} if server is None else {"OPENAI_BASE_URL": server.base_url}
    return {
        **os.environ,
        **pointed,
        "TERM": "xterm-256color",
        "CHATBOT_LOCAL": "0",
        **extra,
    }


class Terminal:
    """A ``chatbot`` process in a pseudo-terminal, with a transcript of what it drew.

    As a context manager it kills the process on the way out if it is still running.
    """

    def __init__(
        self,
        *args: str,
        env: Mapping[str, str],
        cwd: Path | None = None,
        columns: int = COLUMNS,
        toolbar: re.Pattern[str] = TOOLBAR,
    ) -> None:
        self.transcript = io.StringIO()
        self.columns = columns
        self.toolbar = toolbar
        self.child = pexpect.spawn(
            chatbot_executable(),
            list(args),
            env=dict(env),
            cwd=str(cwd) if cwd else None,
            dimensions=(ROWS, columns),
            encoding="utf-8",
            codec_errors="replace",
            timeout=_EXPECT_SECONDS,
        )
        self.child.logfile_read = self.transcript

    @property
    def pid(self) -> int:
        return int(self.child.pid)

    def expect(self, pattern: str | re.Pattern[str], *, timeout: float = _EXPECT_SECONDS) -> str:
        """Wait for ``pattern``; returns the text drawn since the last match, up to its end."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        compiled = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            index = self.child.expect_list(
                [re.compile(re.escape(_CPR_REQUEST)), compiled], timeout=remaining
            )
            seen.append(str(self.child.before))
            if index == 1:
                return strip_ansi("".join(seen) + str(self.child.after))
            # Answer like a terminal would: the cursor is at the top left.
            self.child.send("\x1b[1;1R")

    def wait_for_prompt(self, *, timeout: float = _EXPECT_SECONDS) -> str:
        """Wait until the prompt and its toolbar are drawn; returns the toolbar text."""
        drawn = self.expect(self.toolbar, timeout=timeout)
        return drawn.rsplit("\n", 1)[-1]

    def send_line(self, text: str) -> None:
        self.child.send(text + "\r")

    def exit_status(self, *, timeout: float = _EXPECT_SECONDS) -> int | None:
        """Wait for the process to end; its exit status (None if killed by a signal)."""
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        status = self.child.exitstatus
        return None if status is None else int(status)

    @property
    def output(self) -> str:
        return self.transcript.getvalue()

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
