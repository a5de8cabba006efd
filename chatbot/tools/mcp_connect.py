"""Opening an MCP server's transport: stdio for a command, streamable HTTP or the older
HTTP+SSE for a URL.

A server that speaks only the older SSE transport answers streamable HTTP's POST
with 404 or 405. When streamable HTTP fails to start, :func:`speaks_sse` asks the
URL the way the old transport begins (a GET whose event stream opens with an
``endpoint`` event), so a user who did not set ``transport = "sse"`` still gets
its tools, and ``/tools`` says the transport was found.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chatbot.settings.tool_config import McpServerConfig

__all__ = ["first_transport", "open_transport", "speaks_sse"]

_HTTP_TIMEOUT = 30.0
_READ_TIMEOUT = 300.0
_PROBE_SECONDS = 5.0
#: Enough of an SSE stream to see its first event.
_PROBE_BYTES = 4096


def first_transport(config: McpServerConfig) -> str:
    """ "stdio", "streamable-http" or "sse": the one to try first."""
    if config.url is None:
        return "stdio"
    if config.http_transport:
        return config.http_transport
    path = urlsplit(config.url).path.rstrip("/")
    return "sse" if path.endswith("/sse") else "streamable-http"


async def speaks_sse(config: McpServerConfig, transport: str) -> bool:
    """After streamable HTTP failed to start: does the URL speak the older HTTP+SSE?"""
    if config.url is None or config.http_transport or transport != "streamable-http":
        return False
    import httpx2

    headers = {**config.headers, "Accept": "text/event-stream"}
    try:
        async with (
            httpx2.AsyncClient(timeout=_PROBE_SECONDS) as client,
            client.stream("GET", config.url, headers=headers) as response,
        ):
            kind = response.headers.get("content-type", "")
            if response.status_code != 200 or "text/event-stream" not in kind:
                return False
            seen = b""
            async for chunk in response.aiter_bytes():
                seen += chunk
                if b"event: endpoint" in seen or b"event:endpoint" in seen:
                    return True
                if len(seen) > _PROBE_BYTES or b"\n\n" in seen:
                    return False
    except (httpx2.HTTPError, OSError):
        return False
    return False


async def open_transport(
    config: McpServerConfig, stack: contextlib.AsyncExitStack, *, transport: str, log: Path
) -> Any:
    """The (read, write) streams of ``config``'s server, kept open by ``stack``."""
    if transport == "sse":
        from mcp.client.sse import sse_client

        assert config.url is not None
        return await stack.enter_async_context(
            sse_client(
                config.url,
                headers=dict(config.headers) or None,
                timeout=_HTTP_TIMEOUT,
                sse_read_timeout=_READ_TIMEOUT,
            )
        )
    if transport == "streamable-http":
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        assert config.url is not None
        client = await stack.enter_async_context(
            httpx2.AsyncClient(
                headers=dict(config.headers),
                timeout=httpx2.Timeout(_HTTP_TIMEOUT, read=_READ_TIMEOUT),
            )
        )
        return await stack.enter_async_context(
            streamable_http_client(config.url, http_client=client)
        )
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    from chatbot.settings.paths import open_private
    from chatbot.tools.mcp_launch import watched_command

    assert config.command is not None
    program, args = watched_command(config.command, config.args)
    params = StdioServerParameters(
        command=program, args=args, env=dict(config.env) or None, cwd=config.cwd
    )
    # The server's stderr goes to a private log (the SDK needs a real file), not the screen.
    handle = open_private(log, truncate=True)
    errlog = stack.enter_context(os.fdopen(handle, "w", encoding="utf-8", errors="replace"))
    return await stack.enter_async_context(stdio_client(params, errlog=errlog))
