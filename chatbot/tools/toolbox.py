"""The tools of one run: what to offer the model, and running its calls with the user's say.

:class:`Toolbox` is the :class:`~chatbot.conversation.tool_turns.ToolHost` the
session talks to. It offers the built-in shell and the MCP servers' tools the
persona selects, checks each call's arguments, asks for approval, runs the call
and answers it with one TOOL message; every step is shown as one short line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chatbot.api.events import ToolCall
from chatbot.conversation.messages import Message, ReplyStatus
from chatbot.conversation.tool_turns import tool_message
from chatbot.i18n import _
from chatbot.render import ReplyRenderer
from chatbot.settings.personas import Persona
from chatbot.settings.tool_config import ToolSettings
from chatbot.tools.approval import Approver
from chatbot.tools.display import ToolDisplay, brief_arguments, size_text
from chatbot.tools.memory import ToolSupportMemory
from chatbot.tools.output import OUTPUT_LIMIT
from chatbot.tools.spec import SHELL_SPEC, ToolSpec

if TYPE_CHECKING:
    from chatbot.tools.mcp_hub import McpHub

__all__ = ["Toolbox", "selects"]

_NO_TERMINAL = (
    "not run: there was no terminal to ask the user for approval (they can allow tool "
    "calls with --yes); answer without this tool"
)


def selects(selection: Sequence[str] | None, spec: ToolSpec) -> bool:
    """Whether a persona's ``tools`` list offers ``spec`` (None: every MCP tool, no shell)."""
    if spec.server is None:
        return selection is not None and spec.name in selection
    if selection is None or "*" in selection:
        return True
    return spec.server in selection or spec.name in selection


class Toolbox:
    """Offers tools, and runs the calls the model makes with them."""

    def __init__(
        self,
        *,
        settings: ToolSettings,
        approver: Approver,
        console: ToolDisplay,
        renderer_factory: Callable[[], ReplyRenderer],
        shell_env: Mapping[str, str],
        server_url: str,
        hub: McpHub | None = None,
        memory: ToolSupportMemory | None = None,
        enabled: bool = True,
        start_wait: float = 30.0,
        allow_shell: bool = True,
    ) -> None:
        self.settings = settings
        self.approver = approver
        self.console = console
        self.hub = hub
        self.memory = memory or ToolSupportMemory(None)
        self.server_url = server_url
        #: ``/tools on|off``: whether tools are offered at all in this session.
        self.enabled = enabled
        #: False where no persona may turn the shell on (a web chat beyond loopback).
        self.allow_shell = allow_shell
        self._renderer_factory = renderer_factory
        self._shell_env = dict(shell_env)
        self._start_wait = start_wait
        #: Set once the servers were waited for and some were still starting: not again.
        self._waited = False
        self._offered: dict[str, ToolSpec] = {}
        #: The last ``tools`` list, handed out again while the tools are the same.
        self._listed: tuple[tuple[str, ...], list[dict[str, Any]]] = ((), [])

    # -- what the session asks ------------------------------------------------

    @property
    def max_rounds(self) -> int:
        return self.settings.max_rounds

    def available(self, persona: Persona) -> list[ToolSpec]:
        """The tools ``persona`` gets now (MCP servers that are not ready have none)."""
        shell = self.allow_shell and selects(persona.tools, SHELL_SPEC)
        specs = [SHELL_SPEC] if shell else []
        if self.hub is not None:
            specs += [spec for spec in self.hub.tools() if selects(persona.tools, spec)]
        return specs

    def offered(self, *, model: str, persona: Persona) -> list[dict[str, Any]] | None:
        self.show_notices()
        if not self.enabled or self.memory.unsupported(self.server_url, model):
            self._offered = {}
            return None
        self._wait_for_servers(persona)
        specs = self.available(persona)
        self._offered = {spec.name: spec for spec in specs}
        names = tuple(self._offered)
        if names != self._listed[0]:
            self._listed = (names, [spec.to_openai() for spec in specs])
        return self._listed[1] or None

    def refused(self, *, model: str, reason: str) -> None:
        self.memory.remember(self.server_url, model)
        self.console.notice(
            _(
                "{reason}: asking again without tools (remembered for this server and model; "
                "/tools on tries them again)"
            ).format(reason=reason)
        )

    def close(self) -> None:
        """Stop the MCP servers (the chatbot is leaving)."""
        if self.hub is not None:
            self.hub.close()

    def new_renderer(self) -> ReplyRenderer:
        return self._renderer_factory()

    def show_notices(self) -> None:
        """Say what happened to MCP servers since last time (failed to start, stopped)."""
        if self.hub is not None:
            for notice in self.hub.pop_notices():
                self.console.notice(notice)

    def _wait_for_servers(self, persona: Persona) -> None:
        """Wait for servers still starting, once: a request asks for the tools more
        than once, and later turns get a slow server's tools when it is ready."""
        hub = self.hub
        if hub is None or self._waited or hub.wait_started(0):
            return
        if not any(_uses_server(persona.tools, state.config.name) for state in hub.states()):
            return
        self._waited = True
        self.console.hint(_("waiting for the MCP servers to start…"))
        if not hub.wait_started(self._start_wait):
            self.console.notice(
                _(
                    "some MCP servers are still starting: going on without them for now "
                    "(their tools come when they are ready)"
                )
            )
        self.show_notices()

    # -- running calls ----------------------------------------------------------

    def run_calls(
        self, calls: Sequence[ToolCall], *, first_number: int, keep: Callable[[Message], None]
    ) -> bool:
        cancelled = False
        for number, call in enumerate(calls, start=first_number):
            if cancelled:
                # Never shown, so it takes no number: the next call shown is number + 1.
                keep(tool_message(call, "not run: the user cancelled", status=ReplyStatus.NOT_RUN))
                continue
            try:
                keep(self._run_one(call, number))
            except KeyboardInterrupt:
                self.console.cancelled(number, call.name)
                keep(tool_message(call, "cancelled by the user", status=ReplyStatus.INTERRUPTED))
                cancelled = True
        self.show_notices()
        return not cancelled

    def _run_one(self, call: ToolCall, number: int) -> Message:
        from chatbot.tools.validate import ArgumentError, parse_arguments

        spec = self._offered.get(call.name)
        if spec is None:
            names = ", ".join(self._offered) or "none"
            self.console.line(number, call.name or "?", "", _("no such tool"))
            return tool_message(call, f"error: there is no tool {call.name!r} (tools: {names})")
        try:
            arguments = parse_arguments(call.arguments, spec.parameters)
        except ArgumentError as exc:
            self.console.line(
                number, spec.name, brief_arguments(call.arguments), _("bad arguments")
            )
            return tool_message(call, f"error: {exc}")
        brief = brief_arguments(arguments)
        if spec is SHELL_SPEC:
            from chatbot.tools.shell import elevation_in

            elevated = elevation_in(str(arguments["command"]))
            if elevated is not None:
                self.console.line(
                    number,
                    spec.name,
                    brief,
                    _("refused: it uses {command}").format(command=elevated),
                )
                return tool_message(
                    call,
                    f"refused: this tool never runs {elevated}. Give the command to the user "
                    "to run themselves, and say what it does.",
                    status=ReplyStatus.DECLINED,
                )
        trusted = spec.server is not None and self._trusted(spec.server)
        if self.approver.needs_asking(spec, trusted=trusted) and self.approver.ask is not None:
            self.console.ask_about(spec.name, arguments, shell=spec is SHELL_SPEC)
        verdict = self.approver.decide(spec, trusted=trusted)
        if verdict == "no terminal":
            self.console.line(
                number, spec.name, brief, _("refused: no terminal to ask (--yes allows it)")
            )
            return tool_message(call, _NO_TERMINAL, status=ReplyStatus.DECLINED)
        if verdict == "declined":
            self.console.line(number, spec.name, brief, _("declined"))
            return tool_message(
                call,
                "the user declined to run this call; do not run it again unless they ask",
                status=ReplyStatus.DECLINED,
            )
        self.console.start(number, spec.name, brief)
        started = time.monotonic()
        try:
            content, ok, total = self._execute(spec, arguments)
        finally:
            self.console.stop_ticking()
        took = time.monotonic() - started
        size = size_text(len(content.encode("utf-8")))
        if total > OUTPUT_LIMIT:
            # Most of it was left out: the model and /tool see the head and the tail.
            size = _("{size} kept of {total}").format(size=size, total=size_text(total))
        if ok:
            outcome = _("{size} in {seconds:.1f}s").format(size=size, seconds=took)
        else:
            outcome = _("error ({size}) in {seconds:.1f}s").format(size=size, seconds=took)
        self.console.finish(outcome, ok=ok)
        return tool_message(call, content)

    def _execute(self, spec: ToolSpec, arguments: dict[str, Any]) -> tuple[str, bool, int]:
        """The result text for the model, whether the call succeeded, and its whole size."""
        if spec is SHELL_SPEC:
            from chatbot.tools.shell import run_shell

            result = run_shell(
                str(arguments["command"]),
                env=self._shell_env,
                timeout=self.settings.shell_timeout,
            )
            ok = result.exit_status == 0 and not result.timed_out
            return result.for_model(), ok, result.total_bytes
        from chatbot.tools.mcp_hub import McpCallFailed
        from chatbot.tools.output import cap_text

        assert self.hub is not None and spec.server is not None
        config = next(s.config for s in self.hub.states() if s.config.name == spec.server)
        try:
            answer = self.hub.call(
                spec.server,
                spec.remote_name,
                arguments,
                timeout=config.timeout,
                progress=self.console.progress,
            )
        except McpCallFailed as exc:
            return f"error: {exc}", False, 0
        text = cap_text(answer.text)
        total = len(answer.text.encode("utf-8", errors="replace"))
        return (f"error: {text}" if answer.is_error else text), not answer.is_error, total

    def _trusted(self, server: str) -> bool:
        if self.hub is None:
            return False
        return any(s.config.trust for s in self.hub.states() if s.config.name == server)


def _uses_server(selection: Sequence[str] | None, server: str) -> bool:
    """Whether a persona's ``tools`` list takes any tool of ``server``."""
    if selection is None or "*" in selection or server in selection:
        return True
    return any(item.startswith(f"{server}__") for item in selection)
