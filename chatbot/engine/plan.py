"""Step one of a run: from what the user asked for to a plan, with no network and no process.

:func:`plan_run` reads the settings (flags, environment, ``.env``, personas files,
``config.toml``), checks them, and decides the configuration, the persona, which
server to open and which conversation to continue. Everything wrong with the
settings is found here, before anything is started or sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from chatbot.engine.knowledge_setup import KnowledgePlan, plan_knowledge
from chatbot.errors import ConfigError
from chatbot.i18n import _
from chatbot.secrets import Redactor, url_secrets
from chatbot.servers.choice import EmbeddedPlan, ServerPlan, plan_server
from chatbot.servers.server import ServerKind
from chatbot.settings.config import (
    Config,
    ConfigFlags,
    default_dotenv_files,
    load_environment,
    resolve_config,
)
from chatbot.settings.limits import TOOL_ROUNDS
from chatbot.settings.paths import AppPaths
from chatbot.settings.personas import Persona, PersonaBook, read_persona_sources
from chatbot.settings.user_config import UserConfig, load_user_config

if TYPE_CHECKING:
    from pathlib import Path

    from chatbot.servers.server import Server
    from chatbot.settings.personas import PersonaSources

__all__ = ["LATEST", "Resume", "RunPlan", "RunRequest", "ToolPlan", "plan_run"]

#: ``--continue``: the newest stored conversation.
LATEST: Literal["latest"] = "latest"
#: Which conversation to continue: a stored one's id, the newest, or None for a new one.
Resume = int | Literal["latest"] | None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRequest:
    """What a front end was asked for, besides the configuration flags."""

    flags: ConfigFlags = field(default_factory=ConfigFlags)
    persona_files: tuple[Path, ...] = ()
    #: ``-s``: the system prompt in place of the persona's (its model and sampling stay).
    system: str | None = None
    #: ``--continue`` (:data:`LATEST`), ``--session ID``, or None for a new conversation.
    resume: Resume = None
    debug: bool = False
    assume_yes: bool = False
    no_tools: bool = False
    max_tool_rounds: int | None = None
    #: ``--knowledge NAME`` (repeatable); () for ``--no-knowledge``; None: not given.
    knowledge: tuple[str, ...] | None = None
    #: ``--knowledge-share``: the share of the prompt budget for passages.
    knowledge_share: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolPlan:
    """Whether tools are offered, and how calls are approved and bounded."""

    enabled: bool
    assume_yes: bool
    #: ``--max-tool-rounds`` or ``CHATBOT_MAX_TOOL_ROUNDS``; None: config.toml's.
    max_rounds: int | None


@dataclass(frozen=True, kw_only=True)
class RunPlan:
    """Everything a run needs to open its server and build its sessions."""

    config: Config
    server: ServerPlan
    personas: PersonaSources
    persona_name: str
    system: str | None
    resume: Resume
    tools: ToolPlan
    #: The process environment over the ``.env`` files.
    environ: Mapping[str, str]
    user_config: UserConfig
    paths: AppPaths
    redact: Redactor
    debug: bool = False
    #: Which knowledge bases the run searches, and the share of the budget they get.
    knowledge: KnowledgePlan = field(default_factory=KnowledgePlan)
    #: What the user should hear before anything starts (a ``.env`` others can read).
    warnings: tuple[str, ...] = ()

    def book(self, *, embedded: bool) -> PersonaBook:
        """The personas; on the embedded model, with its tuned settings."""
        return self.personas.book(local=embedded)

    def book_for(self, server: Server) -> PersonaBook:
        return self.book(embedded=server.kind is ServerKind.EMBEDDED)

    def persona(self, *, embedded: bool) -> Persona:
        """The persona the run starts with, ``-s`` applied."""
        persona = self.book(embedded=embedded).get(self.persona_name)
        if self.system is not None:
            persona = replace(persona, system=self.system, source="--system")
        return persona

    def persona_for(self, server: Server) -> Persona:
        return self.persona(embedded=server.kind is ServerKind.EMBEDDED)

    @property
    def store_path(self) -> Path | None:
        """The store's file; None with ``--no-store``."""
        if self.config.no_store:
            return None
        return self.config.store_path or self.paths.store


def plan_run(request: RunRequest, *, environ: Mapping[str, str], paths: AppPaths) -> RunPlan:
    """Read and check the settings; decide the server, persona and conversation."""
    env, warnings = load_environment(
        environ=environ, dotenv_files=default_dotenv_files(paths.config_dir)
    )
    user_config = load_user_config(paths.user_config)
    config = resolve_config(flags=request.flags, env=env, user_config=user_config)
    if config.no_store and (request.resume is not None or config.cache):
        raise ConfigError(_("--continue, --session and --cache need the store: drop --no-store"))
    personas = read_persona_sources(
        user_file=paths.user_personas, extra_files=request.persona_files
    )
    persona_name = config.persona_name or "default"
    persona = personas.book().get(persona_name)  # an unknown name is one line, now
    knowledge, knowledge_warnings = plan_knowledge(
        chosen=request.knowledge,
        share=request.knowledge_share,
        environ=env,
        data_dir=paths.data_dir,
        persona=persona,
    )
    server = plan_server(config, persona, env=env, local_available=_local_extra_installed())
    if isinstance(server, EmbeddedPlan):
        personas.book(local=True).get(persona_name)
    # A password in the base URL is as secret as the key.
    secrets = [env.get("OPENAI_API_KEY", ""), *url_secrets(config.remote_url)]
    return RunPlan(
        config=config,
        server=server,
        personas=personas,
        persona_name=persona_name,
        system=request.system,
        resume=request.resume,
        tools=ToolPlan(
            enabled=_tools_enabled(env, flag_off=request.no_tools),
            assume_yes=request.assume_yes,
            max_rounds=_max_rounds(request.max_tool_rounds, env),
        ),
        environ=env,
        user_config=user_config,
        paths=paths,
        redact=Redactor(secrets),
        debug=request.debug,
        knowledge=knowledge,
        warnings=(*warnings, *user_config.warnings, *knowledge_warnings),
    )


def _tools_enabled(env: Mapping[str, str], *, flag_off: bool) -> bool:
    """False for ``--no-tools`` or ``CHATBOT_TOOLS=0`` (also false, no, off)."""
    raw = env.get("CHATBOT_TOOLS", "").strip().lower()
    return not flag_off and raw not in ("0", "false", "no", "off")


def _max_rounds(flag: int | None, env: Mapping[str, str]) -> int | None:
    """``--max-tool-rounds``, else ``CHATBOT_MAX_TOOL_ROUNDS``, else None (config.toml's)."""
    if flag is not None:
        return flag
    raw = env.get("CHATBOT_MAX_TOOL_ROUNDS", "").strip()
    if not raw:
        return None
    try:
        return int(TOOL_ROUNDS.parse(raw))
    except ValueError as exc:
        raise ConfigError(_("CHATBOT_MAX_TOOL_ROUNDS {error}").format(error=exc)) from None


def _local_extra_installed() -> bool:
    from chatbot.local.install import local_extra_installed

    return local_extra_installed()
