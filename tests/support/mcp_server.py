"""A small MCP server over stdio for the tests, on the SDK's server side.

Run as ``python -m tests.support.mcp_server [NAME]`` (or by path). Its tools:
``add``, ``shout`` (a ToolError past 5 times), ``slow`` (sleeps), ``noisy``
(escape sequences and a lot of text), ``die`` (exits mid-call), ``pid``
(its process id, for the orphan tests), ``steps`` (reports progress as it goes) and
``batch_job`` (listed with ``execution.taskSupport: required``: it runs only as an
MCP task). It writes its pid to ``$MCP_PID_FILE`` when that is set, so a test can
check the process is gone; with ``$MCP_HTTP_PORT`` it serves streamable HTTP on that
port of 127.0.0.1 instead of stdio, with ``$MCP_SSE_PORT`` the older HTTP+SSE
transport; ``$MCP_START_DELAY`` seconds pass before it answers at all.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolExecution

#: Tools listed as runnable only as MCP tasks (``execution.taskSupport: required``).
TASKS_ONLY = ("batch_job",)


class DemoServer(MCPServer):
    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        required = ToolExecution(task_support="required")
        return [
            tool.model_copy(update={"execution": required}) if tool.name in TASKS_ONLY else tool
            for tool in tools
        ]


server = DemoServer(sys.argv[1] if len(sys.argv) > 1 else "demo")


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


@server.tool()
async def steps(count: int, ctx: Context, pause: float = 0.05) -> str:
    """Work through COUNT steps, reporting progress after each."""
    for done in range(1, count + 1):
        await anyio.sleep(pause)
        await ctx.report_progress(done, count, f"step {done}")
    return f"{count} steps done"


@server.tool()
def batch_job(size: int) -> str:
    """A long job this server runs only as an MCP task."""
    return f"job of {size}"


if __name__ == "__main__":
    pid_file = os.environ.get("MCP_PID_FILE")
    if pid_file:
        with open(pid_file, "w", encoding="utf-8") as handle:
            handle.write(str(os.getpid()))
    time.sleep(float(os.environ.get("MCP_START_DELAY", "0")))
    port = os.environ.get("MCP_HTTP_PORT")
    sse_port = os.environ.get("MCP_SSE_PORT")
    if port:
        server.run(transport="streamable-http", host="127.0.0.1", port=int(port))
    elif sse_port:
        path = os.environ.get("MCP_SSE_PATH", "/sse")
        server.run(transport="sse", host="127.0.0.1", port=int(sse_port), sse_path=path)
    else:
        server.run()
