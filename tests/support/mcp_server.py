"""A small MCP server over stdio for the tests, on the SDK's server side.

Run as ``python -m tests.support.mcp_server [NAME]`` (or by path). Its tools:
``add``, ``shout`` (a ToolError past 5 times), ``slow`` (sleeps), ``noisy``
(escape sequences and a lot of text), ``die`` (exits mid-call) and ``pid``
(its process id, for the orphan tests). It writes its pid to ``$MCP_PID_FILE``
when that is set, so a test can check the process is gone; with ``$MCP_HTTP_PORT`` it
serves streamable HTTP on that port of 127.0.0.1 instead of stdio.
"""

from __future__ import annotations

import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer(sys.argv[1] if len(sys.argv) > 1 else "demo")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers and return the sum."""
    return a + b


@server.tool()
def shout(text: str, times: int = 1) -> str:
    """Upper-case TEXT and repeat it TIMES times (1 to 5)."""
    if not 1 <= times <= 5:
        raise ToolError("times must be between 1 and 5")
    return " ".join([text.upper()] * times)


@server.tool()
def slow(seconds: float = 30.0) -> str:
    """Sleep for SECONDS, then say so."""
    time.sleep(seconds)
    return f"slept {seconds:g}s"


@server.tool()
def noisy(kilobytes: int = 1024) -> str:
    """Text full of terminal escape sequences, KILOBYTES long."""
    hostile = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\x1b]0;pwned\x07"
    line = "noise " * 10 + "\n"
    return "START " + hostile + line * (kilobytes * 1024 // len(line)) + hostile + " END"


@server.tool()
def die() -> str:
    """Exit the server process abruptly, mid-call."""
    os._exit(3)


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


if __name__ == "__main__":
    pid_file = os.environ.get("MCP_PID_FILE")
    if pid_file:
        with open(pid_file, "w", encoding="utf-8") as handle:
            handle.write(str(os.getpid()))
    port = os.environ.get("MCP_HTTP_PORT")
    if port:
        server.run(transport="streamable-http", host="127.0.0.1", port=int(port))
    else:
        server.run()
