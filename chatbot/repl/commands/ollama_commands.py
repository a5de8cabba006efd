"""``/model NAME`` on Ollama: the new model's real context becomes the budget too."""

from __future__ import annotations

from dataclasses import replace

from chatbot.api.events import ChatBackend
from chatbot.repl.commands.registry import CommandContext, CommandRegistry
from chatbot.servers.ollama import OllamaContextGuard
from chatbot.settings.catalogue import model_key

__all__ = ["add_ollama_commands"]


def add_ollama_commands(registry: CommandRegistry, *, backend: ChatBackend) -> None:
    """When ``backend`` is Ollama's guard, make ``/model NAME`` also ask for the context."""
    if not isinstance(backend, OllamaContextGuard):
        return
    builtin = registry.commands["model"]

    def _model(ctx: CommandContext, argument: str) -> None:
        builtin.handler(ctx, argument)
        if not argument:
            return
        session = ctx.session
        model = session.params.model
        budget = backend.context(model).budget
        if budget:
            windows = {**session.config.context_windows, model_key(model): budget}
            session.config = replace(session.config, context_windows=windows)
            ctx.notices.hint(f"context: {session.params.context_window:,} tokens (from Ollama)")

    registry.commands["model"] = replace(builtin, handler=_model)
