"""The knowledge bases of a run: which ones, what share of the budget, and how to search.

``--knowledge NAME`` (repeatable) > ``CHATBOT_KNOWLEDGE=a,b`` > the persona's
``knowledge`` key; ``--no-knowledge`` turns them all off. The share of the prompt
budget for passages: ``--knowledge-share`` > ``CHATBOT_KNOWLEDGE_SHARE`` > the
persona's ``knowledge_share`` > 25%. A base named by flag or environment that does
not exist is a configuration error, found while planning; one named only by a
persona is a warning (the persona still works). Every front end gets its sessions'
retriever from :func:`retriever_for`, through the build step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.errors import ConfigError
from chatbot.i18n import _
from chatbot.settings.limits import parse_share
from chatbot.settings.personas import Persona

if TYPE_CHECKING:
    from chatbot.knowledge.retriever import KnowledgeRetriever
    from chatbot.knowledge.shelf import KnowledgeShelf
    from chatbot.servers.server import Server
    from chatbot.settings.config import Config

__all__ = ["KnowledgePlan", "plan_knowledge", "retriever_for"]

_OFF = ("0", "off", "none", "no", "false")


@dataclass(frozen=True, kw_only=True, slots=True)
class KnowledgePlan:
    """The run's choice of bases, checked while planning."""

    #: Bases chosen by flag or environment; None lets the persona decide; () is off.
    chosen: tuple[str, ...] | None = None
    #: The share of the prompt budget set by flag or environment; None: the persona's.
    share: float | None = None
    #: False when the user has no base at all: nothing to open or search.
    any_base: bool = False
    #: Vectors and embedders loaded once for every conversation of the run.
    shelf: KnowledgeShelf | None = field(default=None, compare=False, repr=False)


def plan_knowledge(
    *,
    chosen: tuple[str, ...] | None,
    share: float | None,
    environ: Mapping[str, str],
    data_dir: Path,
    persona: Persona,
) -> tuple[KnowledgePlan, tuple[str, ...]]:
    """The run's knowledge plan and the warnings to show; ConfigError for a missing base."""
    from chatbot.knowledge.base_file import base_names, check_name

    if chosen is None:
        raw = environ.get("CHATBOT_KNOWLEDGE", "").strip()
        if raw:
            chosen = (
                ()
                if raw.lower() in _OFF
                else tuple(name.strip() for name in raw.split(",") if name.strip())
            )
    if share is None and environ.get("CHATBOT_KNOWLEDGE_SHARE", "").strip():
        try:
            share = parse_share(environ["CHATBOT_KNOWLEDGE_SHARE"])
        except ValueError as exc:
            raise ConfigError(_("CHATBOT_KNOWLEDGE_SHARE {error}").format(error=exc)) from None
    known = base_names(data_dir)
    if chosen:
        chosen = tuple(dict.fromkeys(check_name(name) for name in chosen))
        for name in chosen:
            if name not in known:
                raise ConfigError(_missing(name, known))
    warnings: list[str] = []
    if chosen is None and persona.knowledge:
        missing = [name for name in persona.knowledge if name not in known]
        if missing:
            warnings.append(
                _(
                    "warning: persona {persona!r} uses knowledge base {name!r}, which does not "
                    "exist yet (chatbot knowledge add {name} PATH); answering without it"
                ).format(persona=persona.name, name=missing[0])
            )
    from chatbot.knowledge.shelf import KnowledgeShelf

    plan = KnowledgePlan(
        chosen=chosen,
        share=share,
        any_base=bool(known),
        shelf=KnowledgeShelf() if known else None,
    )
    return plan, tuple(warnings)


def _missing(name: str, known: list[str]) -> str:
    listed = ", ".join(known) or _("none yet: chatbot knowledge add NAME PATH")
    return _("no knowledge base {name!r} (bases: {listed})").format(name=name, listed=listed)


def retriever_for(
    *, knowledge: KnowledgePlan, server: Server, config: Config, data_dir: Path
) -> KnowledgeRetriever | None:
    """A new session's retriever, or None when the user has no knowledge base at all.

    One per session: ``/knowledge`` changes what one conversation searches. Question
    vectors come from the run's server only when it is not our embedded chat model
    (its embeddings are harmful, and a second request would cut a streaming reply).
    """
    if not knowledge.any_base:
        return None
    from chatbot.knowledge.embedder_choice import ServerAccess, embedder_for_model
    from chatbot.knowledge.retriever import KnowledgeRetriever
    from chatbot.servers.server import ServerKind

    embedded = server.kind is ServerKind.EMBEDDED
    access = ServerAccess(
        base_url=None if embedded else server.base_url,
        api_key=config.api_key.reveal(),
        timeout=config.timeout,
    )
    return KnowledgeRetriever(
        data_dir=data_dir,
        chosen=knowledge.chosen,
        share=knowledge.share,
        embedder_for=lambda model: embedder_for_model(model, server=access),
        shelf=knowledge.shelf,
    )
