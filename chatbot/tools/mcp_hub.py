"""The configured MCP servers, behind one background event loop, used from plain threads.

The MCP SDK is async (anyio) and takes over a second to import, so one daemon
thread imports it, owns one asyncio loop, and runs one long-lived task per
server. Each task enters the server's transport and ``ClientSession`` and keeps
them open until :meth:`McpHub.close`: anyio requires a context to be left by
the task that entered it. Calls are submitted from the caller's thread with
``run_coroutine_threadsafe``, so Ctrl-C in the caller cancels just that call.

A server that cannot start, or dies, becomes one notice line and a state that
``/tools`` shows; the chat goes on without it. A failed call is followed by a
ping, so a server over HTTP that died is noticed at once, as one over stdio is.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.i18n import N_, _, gettext, quote
from chatbot.settings.tomlfile import one_line
from chatbot.settings.tool_config import McpServerConfig
from chatbot.tools.mcp_connect import first_transport, open_transport, speaks_sse
from chatbot.tools.mcp_results import (
    McpResult,
    connection_lost,
    last_log_line,
    leaf,
    result_text,
)
from chatbot.tools.sdk_logs import keep_sdk_logs_off_the_terminal
from chatbot.tools.spec import ToolSpec, model_name

if TYPE_CHECKING:
    from mcp import ClientSession

__all__ = ["TASKS_UNSUPPORTED", "McpCallFailed", "McpHub", "McpResult", "Progress", "ServerState"]

_CLOSE_SECONDS = 6.0
_PING_SECONDS = 2.0
#: Why a tool that must run as an MCP task is not offered: the SDK has no client for tasks.
TASKS_UNSUPPORTED = N_("not offered: it runs only as an MCP task, which this chat does not support")
#: Told how far a call has got: (progress, total or None, message or None).
Progress = Callable[[float, float | None, str | None], None]
_SDK_MISSING = N_("the MCP SDK is not installed: pip install 'chatbot[mcp]'")


class McpCallFailed(Exception):
    """A call got no result (server gone, timeout); ``str()`` is one line for people."""


@dataclass(kw_only=True)
class ServerState:
    """One server as ``/tools`` shows it: "starting", "ready", "failed" or "stopped"."""

    config: McpServerConfig
    status: str = "starting"
    detail: str = ""
    #: Every tool the server listed, offered or not (see ``ToolSpec.unavailable``).
    tools: tuple[ToolSpec, ...] = ()
    #: The transport in use: "stdio", "streamable-http", or "sse" (and "sse (found)").
    transport: str = ""
    session: ClientSession | None = field(default=None, repr=False)


class McpHub:
    """Starts, calls and stops every configured MCP server."""

    def __init__(
        self,
        servers: Sequence[McpServerConfig],
        *,
        log_dir: Path,
        start_timeout: float = 30.0,
    ) -> None:
        self._states = {server.name: ServerState(config=server) for server in servers}
        self._log_dir = log_dir
        self._start_timeout = start_timeout
        self._lock = threading.Lock()
        self._settled = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runners: dict[str, concurrent.futures.Future[None]] = {}
        self._stops: dict[str, asyncio.Event] = {}
        self._notices: list[str] = []
        self._closing = False

    # -- what callers read --------------------------------------------------

    def states(self) -> list[ServerState]:
        with self._lock:
            return list(self._states.values())

    def tools(self) -> list[ToolSpec]:
        """The tools the model may be offered: those of the servers ready now."""
        with self._lock:
            return [
                t
                for s in self._states.values()
                if s.status == "ready"
                for t in s.tools
                if not t.unavailable
            ]

    def pop_notices(self) -> list[str]:
        """Lines to show about servers that failed or stopped since the last call."""
        with self._lock:
            notices, self._notices = self._notices, []
        return notices

    def wait_started(self, timeout: float) -> bool:
        """Wait until every server is ready or has failed; False if some are still starting."""
        if self._thread is None:
            return True
        return self._settled.wait(timeout)

    # -- lifecycle ----------------------------------------------------------

    def start_in_background(self) -> None:
        """Import the SDK and start every server on a daemon thread; returns at once."""
        if self._thread is not None or not self._states:
            self._settled.set()
            return
        self._thread = threading.Thread(target=self._main, name="mcp-servers", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def close(self) -> None:
        """Stop every server and the loop; safe to call twice and from atexit."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            loop = self._loop
            runners = list(self._runners.items())
            stops = list(self._stops.values())
            starting = {name for name, s in self._states.items() if s.status == "starting"}
        atexit.unregister(self.close)
        if loop is None:
            return  # still importing the SDK: the thread sees _closing and starts nothing
        for stop in stops:
            loop.call_soon_threadsafe(stop.set)
        for name, runner in runners:
            if name in starting:
                runner.cancel()
        concurrent.futures.wait([runner for _, runner in runners], timeout=_CLOSE_SECONDS)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _main(self) -> None:
        keep_sdk_logs_off_the_terminal(self._log_dir / "mcp-client.log")
        try:
            # The slow import happens here, off the prompt's thread.
            import mcp.client.stdio  # noqa: F401
        except ImportError:
            for state in self._states.values():
                self._fail(state, _SDK_MISSING, notify=False)
            self._notify(
                _("MCP servers are configured but {problem}").format(problem=gettext(_SDK_MISSING))
            )
            self._settled.set()
            return
        loop = asyncio.new_event_loop()
        with self._lock:
            if self._closing:
                loop.close()
                self._settled.set()
                return
            self._loop = loop
            for name, state in self._states.items():
                self._runners[name] = asyncio.run_coroutine_threadsafe(self._serve(state), loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    # -- the per-server task --------------------------------------------------

    async def _serve(self, state: ServerState) -> None:
        stop = asyncio.Event()
        self._stops[state.config.name] = stop
        transport = first_transport(state.config)
        try:
            try:
                await self._serve_over(state, transport, stop)
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                raise
            except BaseException:
                if state.status != "starting" or not await speaks_sse(state.config, transport):
                    raise
                # An older server: it speaks HTTP+SSE, not streamable HTTP.
                await self._serve_over(state, "sse", stop, found=True)
        except asyncio.CancelledError:
            self._fail(state, _("stopped while starting"), notify=False)
        except BaseException as exc:  # anyio's groups, OSError, MCPError …
            self._fail(state, self._reason(state.config, exc), notify=not self._closing)
        finally:
            with self._lock:
                state.session = None
                if state.status == "ready":
                    state.status = "stopped"

    async def _serve_over(
        self, state: ServerState, transport: str, stop: asyncio.Event, *, found: bool = False
    ) -> None:
        from mcp import ClientSession

        async with contextlib.AsyncExitStack() as stack:
            read, write = await open_transport(
                state.config, stack, transport=transport, log=self._log_path(state.config)
            )
            session = await stack.enter_async_context(ClientSession(read, write))
            state.transport = f"{transport} (found)" if found else transport
            await asyncio.wait_for(self._handshake(state, session), self._start_timeout)
            await stop.wait()

    async def _handshake(self, state: ServerState, session: ClientSession) -> None:
        from mcp.types import PaginatedRequestParams

        await session.initialize()
        found: list[Any] = []
        cursor: str | None = None
        while True:
            params = PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            found += page.tools
            cursor = page.next_cursor
            if not cursor:
                break
        taken: list[str] = []
        specs = []
        for tool in found:
            name = model_name(state.config.name, tool.name, taken=taken)
            taken.append(name)
            schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
            execution = getattr(tool, "execution", None)
            tasks_only = getattr(execution, "task_support", None) == "required"
            specs.append(
                ToolSpec(
                    name=name,
                    description=tool.description or tool.title or "",
                    parameters=schema,
                    server=state.config.name,
                    remote_name=tool.name,
                    unavailable=TASKS_UNSUPPORTED if tasks_only else "",
                )
            )
        with self._lock:
            state.tools = tuple(specs)
            state.session = session
            state.status = "ready"
            state.detail = ""
        self._check_settled()

    def _log_path(self, config: McpServerConfig) -> Path:
        return self._log_dir / f"mcp-{config.name}.log"

    # -- calls --------------------------------------------------------------

    def call(
        self,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float,
        progress: Progress | None = None,
    ) -> McpResult:
        """Call ``tool`` on ``server``; McpCallFailed when no result came.

        With ``progress``, the call carries a progress token and the server's
        progress notifications are passed on. KeyboardInterrupt cancels the call
        on the server and propagates.
        """
        with self._lock:
            state = self._states.get(server)
            session = state.session if state is not None else None
            loop = self._loop
        if state is None or session is None or loop is None:
            detail = f": {state.detail}" if state is not None and state.detail else ""
            raise McpCallFailed(
                _("the MCP server {server} is not running{detail}").format(
                    server=quote(server), detail=detail
                )
            )

        tell = progress

        async def report(progress: float, total: float | None, message: str | None) -> None:
            if tell is not None:
                tell(progress, total, message)

        future = asyncio.run_coroutine_threadsafe(
            session.call_tool(
                tool,
                arguments,
                read_timeout_seconds=timeout,
                progress_callback=report if progress is not None else None,
            ),
            loop,
        )
        try:
            result = future.result(timeout=timeout + 1)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise McpCallFailed(
                _("no answer from the MCP server {server} within {seconds}s").format(
                    server=quote(server), seconds=f"{timeout:g}"
                )
            ) from None
        except BaseException as exc:
            future.cancel()
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            reason = self._reason(state.config, exc)
            if connection_lost(exc) or not self._answers_ping(state):
                # Over HTTP a death shows as a broken stream or a refused POST, not EOF.
                self._fail(state, reason, status="stopped")
            elif "timed out" in reason.lower():
                reason = _("no answer within {seconds}s").format(seconds=f"{timeout:g}")
            raise McpCallFailed(
                _("the MCP server {server} failed: {reason}").format(
                    server=quote(server), reason=reason
                )
            ) from None
        return result_text(result)

    def _answers_ping(self, state: ServerState) -> bool:
        """Whether a server whose call just failed is still there."""
        with self._lock:
            session, loop = state.session, self._loop
        if session is None or loop is None:
            return False
        future = asyncio.run_coroutine_threadsafe(session.send_ping(), loop)
        try:
            future.result(timeout=_PING_SECONDS)
        except BaseException as exc:
            future.cancel()
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            return False
        return True

    def refresh(self) -> None:
        """Ping the ready servers, so ``/tools`` shows one that died as stopped."""
        with self._lock:
            loop = self._loop
            live = [s for s in self._states.values() if s.status == "ready" and s.session]
        if loop is None:
            return
        for state in live:
            assert state.session is not None
            future = asyncio.run_coroutine_threadsafe(state.session.send_ping(), loop)
            try:
                future.result(timeout=_PING_SECONDS)
            except BaseException as exc:
                future.cancel()
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                self._fail(state, self._reason(state.config, exc), status="stopped")

    # -- state changes ------------------------------------------------------

    def _fail(
        self, state: ServerState, reason: str, *, notify: bool = True, status: str = "failed"
    ) -> None:
        with self._lock:
            was = state.status
            if was in ("failed", "stopped"):
                return
            state.status = "stopped" if was == "ready" else status
            state.detail = reason
            state.session = None
        if notify:
            if was == "ready":
                line = _(
                    "MCP server {name!r} stopped ({reason}); the chat goes on without its tools"
                )
            else:
                line = _(
                    "MCP server {name!r} could not start ({reason}); "
                    "the chat goes on without its tools"
                )
            self._notify(line.format(name=state.config.name, reason=reason))
        self._check_settled()

    def _notify(self, text: str) -> None:
        with self._lock:
            self._notices.append(text)

    def _check_settled(self) -> None:
        with self._lock:
            if all(s.status != "starting" for s in self._states.values()):
                self._settled.set()

    def _reason(self, config: McpServerConfig, exc: BaseException) -> str:
        cause = leaf(exc)
        if isinstance(cause, TimeoutError):
            return _("no answer within {seconds:g}s").format(seconds=self._start_timeout)
        text = one_line(str(cause), limit=160) or type(cause).__name__
        if config.url is None and connection_lost(cause):
            log = self._log_path(config)
            with self._lock:
                starting = self._states[config.name].status == "starting"
            # While starting, its last words say why; later they are ordinary logging.
            logged = last_log_line(log) if starting else ""
            if logged:
                return _("it exited: {line}").format(line=logged)
            return _("it exited; its log is {path}").format(path=log)
        return text
