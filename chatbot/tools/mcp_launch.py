"""How a local MCP server is started so that it can never outlive the chatbot.

The MCP SDK starts the server in a new session and stops it on a normal exit
(stdin closed, then SIGTERM, then SIGKILL to its process group). An SDK server
also exits when its stdin closes, which covers ``kill -9`` of the chatbot, but
other servers may not. So the command runs under a tiny Python watchdog, like
the local llama.cpp server's: it starts the server as its own child (same
stdin and stdout, so the protocol passes straight through), and when its parent
changes (the chatbot died) it stops the server's whole process group.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["watched_command"]

# argv: [parent pid, command, args...]. Never writes to stdout: that is the protocol.
_WATCHDOG = """\
import os, signal, subprocess, sys, threading, time
parent = int(sys.argv[1])
if os.getppid() != parent:
    sys.exit(1)
try:
    child = subprocess.Popen(sys.argv[2:])
except OSError as exc:
    sys.stderr.write(f"cannot start {sys.argv[2]}: {exc.strerror or exc}\\n")
    sys.exit(127)
signal.signal(signal.SIGTERM, lambda *_: child.terminate())
signal.signal(signal.SIGINT, signal.SIG_IGN)
def stop_group():
    try:
        os.killpg(0, signal.SIGTERM)
        deadline = time.monotonic() + 2
        while child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(0, signal.SIGKILL)
def watch():
    while child.poll() is None:
        if os.getppid() != parent:
            stop_group()
        time.sleep(0.2)
threading.Thread(target=watch, daemon=True).start()
status = child.wait()
sys.exit(status if status >= 0 else 128 - status)
"""


def watched_command(command: str, args: Sequence[str]) -> tuple[str, list[str]]:
    """(program, arguments) that run ``command args`` under the watchdog."""
    # -I -S: no user site, no .pth files, no PYTHON* variables: starts in ~15 ms.
    return sys.executable, ["-I", "-S", "-c", _WATCHDOG, str(os.getpid()), command, *args]
