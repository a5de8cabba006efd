"""The terminal front end of one run: plan, open, build, then a chat or a one-shot answer."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from chatbot.conversation.attachments import Attachment
from chatbot.conversation.compose import attach_files
from chatbot.conversation.messages import ReplyStatus
from chatbot.conversation.outcome import describe_outcome
from chatbot.conversation.references import knowledge_lines
from chatbot.conversation.session import ChatSession, TurnResult
from chatbot.engine.building import Storage, build_session, resume_target
from chatbot.engine.opening import open_server, open_store
from chatbot.engine.plan import plan_run
from chatbot.errors import ApiError, ChatbotError, ConfigError
from chatbot.i18n import _
from chatbot.render import ReplyRenderer, make_renderer
from chatbot.render.sanitize import sanitize
from chatbot.secrets import Redactor
from chatbot.settings.paths import AppPaths
from chatbot.text import on_terminal

if TYPE_CHECKING:
    from rich.console import Console

    from chatbot.cli.knowledge_parser import KnowledgeOptions
    from chatbot.cli.options import ModelOptions, RunOptions, StoreOptions
    from chatbot.servers.server import Server
    from chatbot.store.database import Store
    from chatbot.tools.toolbox import Toolbox

__all__ = ["App"]


class App:
    """One invocation of ``chatbot``: builds the pieces and runs a mode."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str],
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.environ = environ
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.paths = AppPaths.from_env(environ)
        self.redact = Redactor([environ.get("OPENAI_API_KEY", "")])
        self._server: Server | None = None
        self._store: Store | None = None
        self._tools: Toolbox | None = None

    # -- edges -----------------------------------------------------------

    def report(self, error: ChatbotError) -> None:
        """Print ``error`` as one line on stderr, key redacted."""
        text = sanitize(self.redact(str(error))).replace("\n", " ")
        print(on_terminal(f"chatbot: {text}", self.stderr), file=self.stderr, flush=True)

    def close(self) -> None:
        if self._tools is not None:
            self._tools.close()
        if self._server is not None:
            self._server.close()
        if self._store is not None:
            self._store.close()

    # -- sub-commands ----------------------------------------------------

    def run_store_command(self, options: StoreOptions) -> int:
        """``chatbot sessions``, ``chatbot export ID``, ``chatbot import FILE``."""
        from chatbot.cli.store_subcommands import run_store_command
        from chatbot.store.database import Store

        env, _ = self._environment()
        raw = options.db or env.get("CHATBOT_DB")
        path = Path(raw).expanduser() if raw else self.paths.store
        store = self._store = Store.open(path)
        return run_store_command(options, store=store, stdout=self.stdout, stderr=self.stderr)

    def run_model_command(self, options: ModelOptions) -> int:
        """``chatbot pull [MODEL]`` and ``chatbot models``."""
        from chatbot.cli.model_subcommands import run_model_command

        env, _ = self._environment()
        return run_model_command(options, environ=env, stdout=self.stdout, stderr=self.stderr)

    def run_knowledge_command(self, options: KnowledgeOptions) -> int:
        """``chatbot knowledge add|list|update|remove|search``."""
        from chatbot.cli.knowledge_subcommands import run_knowledge_command

        env, _ = self._environment()
        return run_knowledge_command(
            options,
            data_dir=self.paths.data_dir,
            environ=env,
            stdout=self.stdout,
            stderr=self.stderr,
        )

    def _environment(self) -> tuple[dict[str, str], tuple[str, ...]]:
        """The process environment over the ``.env`` files."""
        from chatbot.settings.config import default_dotenv_files, load_environment

        return load_environment(
            environ=self.environ, dotenv_files=default_dotenv_files(self.paths.config_dir)
        )

    # -- chatting --------------------------------------------------------

    def run(self, options: RunOptions) -> int:
        """A chat, or a one-shot answer when there is a question; returns the exit status."""
        if options.list_personas:
            return self._list_personas(options)
        plan = plan_run(options.request, environ=self.environ, paths=self.paths)
        self.redact = plan.redact
        for warning in plan.warnings:
            print(warning, file=self.stderr)
        server = self._server = open_server(plan, warn=self._warn)
        store = self._store = open_store(plan)
        storage = Storage.on(store) if store is not None else None
        resumed = resume_target(plan, store) if store is not None else None

        question = self._question(options, files=bool(options.files))
        chat = question is None
        from chatbot.repl.notices import Notices

        # A chat shows everything on its console; one-shot keeps stdout for the answer.
        notices = Notices(console=self._console(self.stdout)) if chat else None
        out = notices.console if notices is not None else self._console(self.stdout)
        side = out if notices is not None else self._console(self.stderr)
        from chatbot.engine.toolbox_setup import toolbox_for

        tools = self._tools = toolbox_for(
            plan,
            server,
            console=side,
            # The answer after a tool round is drawn like any reply.
            renderer_factory=lambda: self._renderer(
                out, session=session, thinking=None if chat else side
            ),
        )
        if not chat:
            _for_one_shot(tools)
        from chatbot.repl.countdown import CountdownWaiter

        say = notices.hint if notices is not None else self._warn
        session = build_session(
            plan,
            server,
            storage=storage,
            notify=notices.hint if notices is not None else None,
            warn=say,
            waiter=CountdownWaiter(console=self._console(self.stderr)),
            tools=tools,
            resumed=resumed,
        )
        # Read and checked before anything is sent or stored: a bad file is one line, exit 2.
        attached = attach_files(options.files, session=session)
        if notices is None:
            return self._one_shot(
                session,
                question or "",
                show_usage=options.show_usage,
                attachments=[a.attachment for a in attached],
            )
        from chatbot.repl.startup import build_chat

        chat_ui = build_chat(
            session=session,
            server=server,
            book=plan.book_for(server),
            notices=notices,
            renderer_factory=lambda: self._renderer(notices.console, session=session),
            environ=self.environ,
            history_path=self.paths.input_history,
            terminal=self.stdout if self.stdout.isatty() else None,
            storage=storage,
            tools=tools,
            resumed=resumed,
            attached=attached,
        )
        return chat_ui.run()

    def _list_personas(self, options: RunOptions) -> int:
        from chatbot.settings.personas import format_persona_list, load_personas

        book = load_personas(
            user_file=self.paths.user_personas, extra_files=options.request.persona_files
        )
        for name, description in format_persona_list(book):
            print(f"{name:<20} {description}", file=self.stdout)
        return 0

    def _warn(self, text: str) -> None:
        print(on_terminal(f"chatbot: {text}", self.stderr), file=self.stderr, flush=True)

    def _question(self, options: RunOptions, *, files: bool = False) -> str | None:
        """The one-shot question from arguments and/or piped stdin, or None for a chat.

        With ``files`` (``-f``) the question may be empty: the files are the message.
        """
        asked = " ".join(options.question)
        piped = ""
        if not self.stdin.isatty():
            buffer = getattr(self.stdin, "buffer", None)
            raw = buffer.read() if buffer is not None else self.stdin.read().encode()
            piped = raw.decode("utf-8", errors="replace")
        if not asked and not piped and self.stdin.isatty():
            return None
        question = "\n\n".join(part for part in (piped.strip("\n"), asked) if part.strip())
        if not question.strip() and not files:
            raise ConfigError(_("nothing to ask: the question is empty"))
        return question

    def _one_shot(
        self,
        session: ChatSession,
        question: str,
        *,
        show_usage: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> int:
        console = self._console(self.stdout)
        # stdout carries only the answer: thinking is shown (or written) on stderr.
        renderer = self._renderer(console, session=session, thinking=self._console(self.stderr))
        try:
            result = session.send(question, renderer=renderer, attachments=attachments)
        except ApiError as exc:
            self.report(exc)
            return 1
        # The sources after the answer, on stderr: stdout stays the answer alone.
        for line in knowledge_lines(result.references, result.reply.sources):
            print(on_terminal(sanitize(line), self.stderr), file=self.stderr)
        outcome = describe_outcome(result.reply, tool_rounds=result.tool_rounds)
        if outcome is not None and outcome.exit_code == 130:
            return 130  # the user pressed Ctrl-C: they know
        if outcome is not None:
            # The line can quote the server (a finish value, tool names): keep it inert.
            line = f"chatbot: {sanitize(self.redact(outcome.text))}"
            print(on_terminal(line, self.stderr), file=self.stderr)
        if show_usage:
            self._print_usage(session, result)
        return 0 if outcome is None else outcome.exit_code

    def _print_usage(self, session: ChatSession, result: TurnResult) -> None:
        """``--usage``: the reply's tokens and cost on stderr, ``~`` marking estimates."""
        from chatbot.conversation.thought_tokens import thinking_tokens
        from chatbot.settings.catalogue import describe_usage

        if result.reply.status is ReplyStatus.CACHED:
            print(_("usage: none (answered from the response cache)"), file=self.stderr)
            return
        usage = result.usage
        thinking, thinking_exact = thinking_tokens(result.reply, session.counter)
        if usage is not None and usage.prompt_tokens > 0:
            prompt, completion, estimated = usage.prompt_tokens, usage.completion_tokens, False
        else:
            # The same estimate the request was fitted with, and the reply counted alike.
            prompt = session.usage.last_prompt_tokens
            completion = session.counter.text_tokens(result.reply.content) + thinking
            estimated = True
        line = describe_usage(
            session.params.model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            estimated=estimated,
            prices=session.config.prices,
            thinking_tokens=thinking,
            thinking_estimated=not thinking_exact,
        )
        print(_("usage: {line}").format(line=line), file=self.stderr, flush=True)

    def _console(self, file: TextIO) -> Console:
        from rich.console import Console

        return Console(file=file, highlight=False, soft_wrap=False)

    def _renderer(
        self, console: Console, *, session: ChatSession, thinking: Console | None = None
    ) -> ReplyRenderer:
        config = session.config
        markdown = console.is_terminal if config.markdown is None else config.markdown
        think = config.think_for(session.persona)
        return make_renderer(
            console=console,
            markdown=markdown,
            file=self.stdout,
            think=think,
            thinking_console=thinking,
        )


def _for_one_shot(toolbox: Toolbox) -> None:
    """One-shot: ask at the terminal if there is one (unless --yes); start servers now."""
    from chatbot.tools.approval import terminal_asker

    if not toolbox.approver.assume_yes:
        toolbox.approver.ask = terminal_asker()
    if toolbox.hub is not None:
        toolbox.hub.start_in_background()
