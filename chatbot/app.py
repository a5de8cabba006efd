"""Wires configuration, personas, client, store, renderer and loop for one run."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from chatbot.api.client import ChatClient
from chatbot.api.reasoning import OpenedThinking
from chatbot.conversation.attachments import Attachment
from chatbot.conversation.compose import attach_files
from chatbot.conversation.journal import Journal
from chatbot.conversation.messages import ReplyStatus
from chatbot.conversation.outcome import describe_outcome
from chatbot.conversation.references import knowledge_lines
from chatbot.conversation.session import ChatSession, TurnResult
from chatbot.errors import ApiError, ChatbotError, ConfigError
from chatbot.local.server_log import ServerLog
from chatbot.render import ReplyRenderer, make_renderer
from chatbot.render.sanitize import sanitize
from chatbot.secrets import Redactor, url_secrets
from chatbot.servers.choice import choose_remote, discover, guard_backend, start_local
from chatbot.settings.config import Config, default_dotenv_files, load_environment, resolve_config
from chatbot.settings.paths import AppPaths
from chatbot.settings.personas import PersonaBook, format_persona_list, load_personas
from chatbot.text import on_terminal

if TYPE_CHECKING:
    from rich.console import Console

    from chatbot.api.debuglog import DebugLog
    from chatbot.cli.knowledge_parser import KnowledgeOptions
    from chatbot.cli.options import ModelOptions, RunOptions, StoreOptions
    from chatbot.knowledge.retriever import KnowledgeRetriever
    from chatbot.local.runtime import LocalRuntime
    from chatbot.store.database import Store
    from chatbot.store.records import StoredConversation
    from chatbot.store.store_journal import StoreJournal
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
        self._client: ChatClient | None = None
        self._store: Store | None = None
        self._store_journal: StoreJournal | None = None
        self._local: LocalRuntime | None = None
        self._tools: Toolbox | None = None
        self._retriever: KnowledgeRetriever | None = None

    # -- edges -----------------------------------------------------------

    def report(self, error: ChatbotError) -> None:
        """Print ``error`` as one line on stderr, key redacted."""
        text = sanitize(self.redact(str(error))).replace("\n", " ")
        print(on_terminal(f"chatbot: {text}", self.stderr), file=self.stderr, flush=True)

    def close(self) -> None:
        if self._tools is not None:
            self._tools.close()
        if self._retriever is not None:
            self._retriever.close()
        if self._client is not None:
            self._client.close()
        if self._local is not None:
            self._local.stop()
        if self._store is not None:
            self._store.close()

    # -- the store -------------------------------------------------------

    def _store_path(self, flag: str | None, env: Mapping[str, str]) -> Path:
        raw = flag or env.get("CHATBOT_DB")
        return Path(raw).expanduser() if raw else self.paths.store

    def _environment(self) -> tuple[dict[str, str], tuple[str, ...]]:
        """The process environment over the ``.env`` files."""
        return load_environment(
            environ=self.environ, dotenv_files=default_dotenv_files(self.paths.config_dir)
        )

    def _open_store(self, path: Path) -> Store:
        from chatbot.store.database import Store

        self._store = Store.open(path)
        return self._store

    def run_store_command(self, options: StoreOptions) -> int:
        """``chatbot sessions``, ``chatbot export ID``, ``chatbot import FILE``."""
        from chatbot.cli.store_subcommands import run_store_command

        env, _ = self._environment()
        store = self._open_store(self._store_path(options.db, env))
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

    # -- chatting --------------------------------------------------------

    def run(self, options: RunOptions) -> int:
        """A chat, or a one-shot answer when there is a question; returns the exit status."""
        extra = list(options.persona_files)
        if options.list_personas:
            book = self._personas(extra)
            for name, description in format_persona_list(book):
                print(f"{name:<20} {description}", file=self.stdout)
            return 0
        env, warnings = self._environment()
        self.redact = Redactor([env.get("OPENAI_API_KEY", "")])
        flags = options.flags
        unconfigured = not (
            flags.get("base_url") or env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL")
        )
        env, discovered = discover(flags, env) if unconfigured else (env, None)
        unconfigured = unconfigured and discovered is None
        config = resolve_config(
            flags=flags,
            env=env,
            warnings=warnings,
            local_available=unconfigured and _local_extra_installed(),
        )
        from chatbot.settings.user_config import load_user_config

        user_config = load_user_config(self.paths.user_config)
        config = replace(
            config, prices=user_config.prices, context_windows=user_config.context_windows
        )
        # A password in the base URL is as secret as the key.
        self.redact = Redactor([env.get("OPENAI_API_KEY", ""), *url_secrets(config.endpoint)])
        if config.no_store and (options.resume or options.session is not None or config.cache):
            raise ConfigError("--continue, --session and --cache need the store: drop --no-store")
        # On the embedded model, personas take its tuned settings (local-personas.toml).
        book = self._personas(extra, local=config.local)
        persona = book.get(config.persona_name or "default")
        if persona.provider == "local" and not config.local and not flags.get("base_url"):
            # The persona asks for the embedded model (a flag's --base-url still wins).
            config = replace(config, local=True, local_reason="persona", base_url=None)
            book = self._personas(extra, local=True)
            persona = book.get(config.persona_name or "default")
        if options.system is not None:
            # -s replaces only the prompt: the persona's model and sampling stay.
            persona = replace(persona, system=options.system, source="--system")
        config, ollama = choose_remote(config, discovered, persona=persona, warn=self._warn)
        config, self._local = start_local(
            config, model_flag=options.model, env=env, paths=self.paths, warn=self._warn
        )
        for warning in (*config.warnings, *user_config.warnings):
            print(warning, file=self.stderr)

        journal: Journal | None = None
        store_journal: StoreJournal | None = None
        resumed: StoredConversation | None = None
        if not config.no_store:
            from chatbot.store.store_journal import StoreJournal

            store = self._open_store(config.store_path or self.paths.store)
            journal = store_journal = self._store_journal = StoreJournal(store)
            resumed = self._resume_target(store, options)

        client = self._client = ChatClient(
            api_key=config.api_key.reveal(),
            base_url=config.endpoint,
            timeout=config.timeout,
            # Retries are ours, visible and cancellable, not the SDK's silent ones.
            max_retries=0,
            include_usage=config.include_usage,
            redact=self.redact,
            prepare=self._local.base_url if self._local is not None else None,
            debug=self._debug_log(options),
            # The embedded server logs some failures instead of sending them.
            server_log=ServerLog(self._local.log_path)
            if self._local is not None and self._local.log_path is not None
            else None,
        )
        cache = None
        if self._store is not None:
            from chatbot.store.store_journal import StoreReplyCache

            cache = StoreReplyCache(self._store)
        from chatbot.conversation.retry import RetryPolicy
        from chatbot.repl.countdown import CountdownWaiter
        from chatbot.repl.notices import Notices

        question = self._question(options, files=bool(options.files))
        # A chat announces slow background steps (summarising) on its own console.
        notices = Notices(console=self._console(self.stdout)) if question is None else None
        from chatbot.engine.toolbox_setup import toolbox_for_run

        out = notices.console if notices is not None else self._console(self.stdout)
        # Tool lines: a chat's on stdout, one-shot's on stderr. The answer after a tool
        # round is drawn like any reply (``session`` is bound below, before any turn).
        tools = self._tools = toolbox_for_run(
            options, config=config, env=env, user_config=user_config, chat=notices is not None,
            console=out if notices is not None else self._console(self.stderr),
            renderer_factory=lambda: self._renderer(
                out, session=session, thinking=None if notices else self._console(self.stderr)
            ),
            data_dir=self.paths.data_dir,
        )  # fmt: skip
        say = notices.hint if notices is not None else self._warn
        from chatbot.engine.knowledge_setup import knowledge_for_run

        retriever = self._retriever = knowledge_for_run(
            chosen=options.knowledge, share=options.knowledge_share, environ=env,
            data_dir=self.paths.data_dir, persona=persona, warn=self._warn,
            base_url=None if config.local else config.endpoint, api_key=config.api_key.reveal(),
        )  # fmt: skip
        session = ChatSession(
            config=config,
            persona=persona,
            backend=guard_backend(client, ollama, config=config, persona=persona, warn=say),
            journal=journal,
            cache=cache,
            retry_policy=RetryPolicy(attempts=config.retries, max_wait=config.retry_max_wait),
            waiter=CountdownWaiter(console=self._console(self.stderr)),
            notify=notices.hint if notices is not None else None,
            tools=tools,
            opened_thinking=OpenedThinking(
                self.paths.data_dir / "think-tags.json",
                server=config.base_url or ("local" if config.local else config.endpoint),
            ),
            retriever=retriever,
        )
        if resumed is not None and store_journal is not None:
            from chatbot.store.store_journal import resume

            resume(session, resumed, book=book, journal=store_journal)
            if options.system is not None:
                session.switch_persona(replace(session.persona, system=options.system))
        # Read and checked before anything is sent or stored: a bad file is one line, exit 2.
        attached = attach_files(options.files, session=session)

        if question is not None or notices is None:
            return self._one_shot(
                session,
                question or "",
                config=config,
                show_usage=options.show_usage,
                attachments=[a.attachment for a in attached],
            )
        from chatbot.repl.startup import run_chat

        return run_chat(
            session=session,
            book=book,
            notices=notices,
            client=client,
            renderer_factory=lambda: self._renderer(notices.console, session=session),
            environ=self.environ,
            stdout=self.stdout,
            history_path=self.paths.input_history,
            resumed=resumed,
            attached=attached,
            local=self._local,
            store=self._store,
            store_journal=self._store_journal,
            tools=self._tools,
        )

    def _warn(self, text: str) -> None:
        print(on_terminal(f"chatbot: {text}", self.stderr), file=self.stderr, flush=True)

    def _debug_log(self, options: RunOptions) -> DebugLog | None:
        if not options.debug:
            return None
        from chatbot.api.debuglog import DebugLog

        log = DebugLog(self.paths.debug_log, redact=self.redact)
        print(f"chatbot: debug log: {log.path}", file=self.stderr)
        return log

    def _resume_target(self, store: Store, options: RunOptions) -> StoredConversation | None:
        if options.session is not None:
            return store.load_conversation(options.session)
        if options.resume:
            latest = store.latest_conversation_id()
            if latest is None:
                raise ConfigError("there is no conversation to continue yet")
            return store.load_conversation(latest)
        return None

    def _personas(self, extra: list[Path], *, local: bool = False) -> PersonaBook:
        return load_personas(user_file=self.paths.user_personas, extra_files=extra, local=local)

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
            raise ConfigError("nothing to ask: the question is empty")
        return question

    def _one_shot(
        self,
        session: ChatSession,
        question: str,
        *,
        config: Config,
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
            print(sanitize(line), file=self.stderr)
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
            print("usage: none (answered from the response cache)", file=self.stderr)
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
        print(f"usage: {line}", file=self.stderr, flush=True)

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


def _local_extra_installed() -> bool:
    from chatbot.local.install import local_extra_installed

    return local_extra_installed()
