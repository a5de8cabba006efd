"""What the command line asked for, as frozen, typed options for the app.

The app never sees ``argparse.Namespace``: the CLI turns it into one of these.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.engine.plan import LATEST, Resume, RunRequest
from chatbot.settings.config import ConfigFlags

if TYPE_CHECKING:
    from chatbot.web.serve import ServeOptions

__all__ = [
    "ModelOptions",
    "RunOptions",
    "StoreOptions",
    "model_options",
    "run_options",
    "serve_options",
    "store_options",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class RunOptions:
    """A chat or one-shot run."""

    #: The question words; empty for a chat (stdin may still hold a question).
    question: tuple[str, ...] = ()
    #: What the engine is asked for: settings, persona files, -s, resume, tools.
    request: RunRequest = field(default_factory=RunRequest)
    list_personas: bool = False
    show_usage: bool = False
    #: Files to attach to the first message (``-f``), in the order given.
    files: tuple[Path, ...] = ()


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
    flags = ConfigFlags(
        persona=args.persona,
        model=args.model,
        base_url=args.base_url,
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
        context_window=args.context_window,
        timeout=args.timeout,
        retries=args.retries,
        overflow=args.overflow,
        think=args.think,
        max_wait=args.max_wait,
        markdown=args.markdown,
        db=args.db,
        local=bool(args.local),
        local_model=args.local_model,
        no_store=bool(args.no_store),
        cache=bool(args.cache),
    )
    resume: Resume = LATEST if args.resume else None
    if args.session is not None:
        resume = int(args.session)
    request = RunRequest(
        flags=flags,
        persona_files=tuple(Path(p).expanduser() for p in args.personas),
        system=args.system,
        resume=resume,
        debug=bool(args.debug),
        assume_yes=bool(args.yes),
        no_tools=bool(args.no_tools),
        max_tool_rounds=args.max_tool_rounds,
        knowledge=() if getattr(args, "no_knowledge", False) else _names(args),
        knowledge_share=getattr(args, "knowledge_share", None),
    )
    return RunOptions(
        question=tuple(args.question),
        request=request,
        list_personas=bool(args.list_personas),
        show_usage=bool(args.usage),
        files=tuple(Path(p).expanduser() for p in args.files),
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


def serve_options(args: argparse.Namespace) -> ServeOptions:
    """``chatbot serve`` as the web chat takes it."""
    from chatbot.web.serve import ServeOptions

    flags = ConfigFlags(
        persona=args.persona,
        model=args.model,
        base_url=args.base_url,
        context_window=args.context_window,
        timeout=args.timeout,
        db=args.db,
    )
    return ServeOptions(
        host=args.host,
        port=args.port,
        users=Path(args.users).expanduser() if args.users else None,
        hash_password=bool(args.hash_password),
        request=RunRequest(
            flags=flags,
            persona_files=tuple(Path(p).expanduser() for p in args.personas),
            knowledge=() if args.no_knowledge else _names(args),
            knowledge_share=args.knowledge_share,
        ),
    )
