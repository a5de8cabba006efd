"""Commands that depend on the server: ``/model`` for the embedded server and for Ollama."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.repl.commands.registry import CommandRegistry

if TYPE_CHECKING:
    from chatbot.api.client import ChatClient
    from chatbot.api.events import ChatBackend
    from chatbot.local.runtime import LocalRuntime

__all__ = ["add_server_commands"]


def add_server_commands(
    registry: CommandRegistry,
    *,
    runtime: LocalRuntime | None,
    client: ChatClient,
    backend: ChatBackend,
) -> None:
    """Local models for ``/model`` on the embedded server; Ollama's context on Ollama."""
    if runtime is not None:
        from chatbot.repl.commands.local_commands import add_local_commands

        add_local_commands(registry, runtime=runtime, client=client)
        return
    from chatbot.repl.commands.ollama_commands import add_ollama_commands

    add_ollama_commands(registry, backend=backend)
