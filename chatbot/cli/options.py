"""What the command line asked for, as frozen, typed options for the app.

The app never sees ``argparse.Namespace``: the CLI turns it into one of these.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "ModelOptions",
    "RunOptions",
    "StoreOptions",
    "model_options",
    "run_options",
    "store_options",
]

#: Options that feed :func:`chatbot.settings.config.resolve_config`, by their flag names.
_CONFIG_FLAGS = (
    "persona",
    "model",
    "base_url",
    "temperature",
    "top_p",
    "max_tokens",
    "context_window",
    "timeout",
    "retries",
    "overflow",
    "think",
    "max_wait",
    "markdown",
    "db",
    "local",
    "local_model",
    "no_store",
    "cache",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunOptions:
    """A chat or one-shot run."""

    #: The question words; empty for a chat (stdin may still hold a question).
    question: tuple[str, ...] = ()
    #: Only the settings the user gave, keyed as ``resolve_config`` expects.
    flags: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    persona_files: tuple[Path, ...] = ()
    list_personas: bool = False
    resume: bool = False
    session: int | None = None
    show_usage: bool = False
    debug: bool = False
    #: Files to attach to the first message (``-f``), in the order given.
    files: tuple[Path, ...] = ()
    #: The system prompt for this run (``-s``), in place of the persona's.
    system: str | None = None
    #: Run tool calls without asking.
    assume_yes: bool = False
    no_tools: bool = False
    max_tool_rounds: int | None = None
    #: Knowledge bases (``--knowledge``); () for ``--no-knowledge``; None: not given.
    knowledge: tuple[str, ...] | None = None
    knowledge_share: float | None = None

    @property
    def model(self) -> str | None:
        value = self.flags.get("model")
        return value if isinstance(value, str) else None

    @property
    def base_url(self) -> str | None:
        value = self.flags.get("base_url")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, kw_only=True, slots=True)
class StoreOptions:
    """``chatbot sessions|export|import``."""

    command: str
    db: str | None = None
    search: str | None = None
    limit: int = 20
    id: int = 0
    format: str = "md"
    output: str | None = None
    file: str = ""


def run_options(args: argparse.Namespace) -> RunOptions:
    """The run the parsed chat/one-shot arguments describe."""
    flags = {
        name: getattr(args, name) for name in _CONFIG_FLAGS if getattr(args, name, None) is not None
    }
    return RunOptions(
        question=tuple(args.question),
        flags=MappingProxyType(flags),
        persona_files=tuple(Path(p).expanduser() for p in args.personas),
        list_personas=bool(args.list_personas),
        resume=bool(args.resume),
        session=args.session,
        show_usage=bool(args.usage),
        debug=bool(args.debug),
        files=tuple(Path(p).expanduser() for p in args.files),
        system=args.system,
        assume_yes=bool(args.yes),
        no_tools=bool(args.no_tools),
        max_tool_rounds=args.max_tool_rounds,
        knowledge=() if getattr(args, "no_knowledge", False) else _names(args),
        knowledge_share=getattr(args, "knowledge_share", None),
    )


def _names(args: argparse.Namespace) -> tuple[str, ...] | None:
    given = getattr(args, "knowledge", None)
    if not given:
        return None
    # "--knowledge a,b" works too, as CHATBOT_KNOWLEDGE does.
    return tuple(name.strip() for item in given for name in item.split(",") if name.strip())


def store_options(args: argparse.Namespace) -> StoreOptions:
    """The store sub-command the parsed arguments describe."""
    return StoreOptions(
        command=args.command,
        db=getattr(args, "db", None),
        search=getattr(args, "search", None),
        limit=getattr(args, "limit", 20),
        id=getattr(args, "id", 0),
        format=getattr(args, "format", "md"),
        output=getattr(args, "output", None),
        file=getattr(args, "file", ""),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelOptions:
    """``chatbot pull [MODEL]`` or ``chatbot models``."""

    command: str
    model: str | None = None


def model_options(args: argparse.Namespace) -> ModelOptions:
    """The model sub-command the parsed arguments describe."""
    return ModelOptions(command=args.command, model=getattr(args, "model", None))
