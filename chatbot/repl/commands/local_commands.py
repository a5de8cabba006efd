"""``/model`` in a chat with the embedded server: switch local models, restarting the server."""

from __future__ import annotations

from dataclasses import replace

from chatbot.api.client import ChatClient
from chatbot.errors import ChatbotError, ServerUnreachable
from chatbot.local.model_cache import LocalModel, available_models, format_size, resolve_local_model
from chatbot.local.runtime import LocalRuntime, alias_for, context_for
from chatbot.repl.commands.registry import CommandContext, CommandRegistry
from chatbot.settings.catalogue import model_key

__all__ = ["add_local_commands"]


def add_local_commands(
    registry: CommandRegistry, *, runtime: LocalRuntime, client: ChatClient
) -> None:
    """Replace ``/model`` with one that lists and switches the local models."""
    cache_dir = runtime.cache_dir

    def names() -> list[str]:
        return [model.name for model in available_models(cache_dir)]

    @registry.add(
        "model",
        usage="/model [NAME]",
        help="switch local model (restarts the local server), or list them",
        arguments=names,
    )
    def _model(ctx: CommandContext, argument: str) -> None:
        current = runtime.model
        if not argument:
            models = available_models(cache_dir)
            width = max((len(model.name) for model in models), default=0)
            for model in models:
                marker = "*" if current is not None and model.path == current.path else " "
                ctx.notices.plain(f"{marker} {model.name:<{width}}  {format_size(model.size):>9}")
            ctx.notices.hint("switch with /model NAME; get more with: chatbot pull NAME")
            return
        model = resolve_local_model(argument, cache_dir=cache_dir)
        if current is not None and model.path == current.path:
            ctx.notices.hint(f"already chatting with {model.name}")
            return
        ctx.notices.hint(f"restarting the local server with {model.name}…")
        _switch(ctx, runtime=runtime, client=client, model=model, previous=current)


def _switch(
    ctx: CommandContext,
    *,
    runtime: LocalRuntime,
    client: ChatClient,
    model: LocalModel,
    previous: LocalModel | None,
) -> None:
    runtime.switch(model)
    client.reconnect()
    try:
        runtime.base_url()  # wait for it: a model that cannot load is reported now
    except (ServerUnreachable, KeyboardInterrupt) as exc:
        reason = "cancelled" if isinstance(exc, KeyboardInterrupt) else str(exc)
        if previous is not None:
            runtime.switch(previous)
            client.reconnect()
            raise ChatbotError(
                f"could not start {model.name} ({reason}); back on {previous.name}"
            ) from None
        raise ChatbotError(f"could not start {model.name}: {reason}") from None
    session = ctx.session
    alias = alias_for(model)
    # Keyed as the catalogue looks models up (lower case, after any "/").
    windows = {**session.config.context_windows, model_key(alias): context_for(model)}
    session.config = replace(session.config, context_windows=windows)
    session.set_model(alias)
    ctx.notices.info(f"model: {model.name} (local, {context_for(model):,}-token context)")
