"""The knowledge bases of a run: which ones, what share of the budget, and how to search.

``--knowledge NAME`` (repeatable) > ``CHATBOT_KNOWLEDGE=a,b`` > the persona's
``knowledge`` key; ``--no-knowledge`` turns them all off. The share of the prompt
budget for passages: ``--knowledge-share`` > ``CHATBOT_KNOWLEDGE_SHARE`` > the
persona's ``knowledge_share`` > 25%. A base named by flag or environment that does
not exist is a configuration error; one named only by a persona is a warning (the
persona still works). Any front end builds its retriever here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.errors import ConfigError
from chatbot.settings.limits import parse_share
from chatbot.settings.personas import Persona

if TYPE_CHECKING:
    from chatbot.knowledge.retriever import KnowledgeRetriever

__all__ = ["knowledge_for_run"]


def knowledge_for_run(
    *,
    chosen: tuple[str, ...] | None,
    share: float | None,
    environ: Mapping[str, str],
    data_dir: Path,
    persona: Persona,
    base_url: str | None,
    api_key: str,
    warn: Callable[[str], None],
) -> KnowledgeRetriever | None:
    """The retriever for this run, or None when the user has no knowledge base at all."""
    if chosen is None:
        raw = environ.get("CHATBOT_KNOWLEDGE", "").strip()
        if raw:
            chosen = (
                ()
                if raw.lower() in ("0", "off", "none")
                else tuple(name.strip() for name in raw.split(",") if name.strip())
            )
    if share is None and environ.get("CHATBOT_KNOWLEDGE_SHARE", "").strip():
        try:
            share = parse_share(environ["CHATBOT_KNOWLEDGE_SHARE"])
        except ValueError as exc:
            raise ConfigError(f"CHATBOT_KNOWLEDGE_SHARE {exc}") from None
    from chatbot.knowledge.base_file import knowledge_dir

    if not chosen and not persona.knowledge and not knowledge_dir(data_dir).is_dir():
        return None  # no base anywhere: nothing to import or open
    from chatbot.knowledge.embedder_choice import ServerAccess, embedder_for_model
    from chatbot.knowledge.retriever import KnowledgeRetriever

    server = ServerAccess(base_url=base_url, api_key=api_key)
    retriever = KnowledgeRetriever(
        data_dir=data_dir,
        chosen=chosen,
        share=share,
        embedder_for=lambda model: embedder_for_model(model, server=server),
    )
    if chosen:
        retriever.check(chosen)
    elif chosen is None and persona.knowledge:
        missing = [name for name in persona.knowledge if name not in retriever.available()]
        if missing:
            warn(
                f"persona {persona.name!r} uses knowledge base {missing[0]!r}, which does not "
                f"exist yet (chatbot knowledge add {missing[0]} PATH); answering without it"
            )
    return retriever
