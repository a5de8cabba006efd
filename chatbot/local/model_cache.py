"""Pulled models: read straight from huggingface_hub's cache folders, without importing it.

The cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``)
holds one ``models--OWNER--NAME`` folder per repository; ``snapshots/COMMIT/FILE``
links to the finished download in ``blobs/``. A download still in progress or
interrupted is a ``blobs/*.incomplete`` file with no snapshot link, so it is
never listed and never used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chatbot.errors import ConfigError
from chatbot.i18n import _
from chatbot.local.install import BUNDLED_MODEL_FILE, find_bundled_model
from chatbot.local.short_names import parse_model_spec, short_name_for

__all__ = [
    "BUNDLED_NAME",
    "LocalModel",
    "available_models",
    "format_size",
    "hub_cache_dir",
    "pulled_models",
    "resolve_local_model",
]

#: How the bundled SmolLM2-135M is named in ``chatbot models`` and ``/model``.
BUNDLED_NAME = "smollm2-135m"


@dataclass(frozen=True, kw_only=True, slots=True)
class LocalModel:
    """A GGUF file the embedded server can serve."""

    #: What the user types (``--local-model``, ``/model``) and the server's alias.
    name: str
    path: Path
    size: int
    #: ``owner/repo`` for a pulled model; None for the bundled one or a plain path.
    repo: str | None = None
    bundled: bool = False


def hub_cache_dir(environ: Mapping[str, str]) -> Path:
    """Where huggingface_hub keeps downloads, decided as it decides it, from ``environ``."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if environ.get(name):
            return Path(os.path.expandvars(environ[name])).expanduser()
    if environ.get("HF_HOME"):
        return Path(os.path.expandvars(environ["HF_HOME"])).expanduser() / "hub"
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    cache = Path(environ["XDG_CACHE_HOME"]) if environ.get("XDG_CACHE_HOME") else home / ".cache"
    return cache / "huggingface" / "hub"


def _repo_of(folder: Path) -> str | None:
    """``models--Qwen--Qwen2.5-0.5B-Instruct-GGUF`` → ``Qwen/Qwen2.5-0.5B-Instruct-GGUF``."""
    parts = folder.name.split("--")
    if len(parts) < 3 or parts[0] != "models":
        return None
    return f"{parts[1]}/{'--'.join(parts[2:])}"


def pulled_models(cache_dir: Path) -> list[LocalModel]:
    """Every finished GGUF download in the cache, newest snapshot per file, by name."""
    found: dict[str, LocalModel] = {}
    try:
        repos = sorted(cache_dir.glob("models--*"))
    except OSError:
        return []
    for folder in repos:
        repo = _repo_of(folder)
        if repo is None:
            continue
        snapshots = folder / "snapshots"
        try:
            links = sorted(
                snapshots.glob("*/**/*.gguf"), key=lambda p: p.lstat().st_mtime, reverse=True
            )
        except OSError:
            continue
        for link in links:
            try:
                size = link.stat().st_size  # follows the link to its blob
            except OSError:
                continue  # a dangling link: the blob was removed
            filename = link.relative_to(snapshots).as_posix().split("/", 1)[1]
            name = short_name_for(repo, filename) or f"{repo}/{filename}"
            if name not in found:
                found[name] = LocalModel(name=name, path=link, size=size, repo=repo)
    return sorted(found.values(), key=lambda model: model.name.lower())


def available_models(cache_dir: Path) -> list[LocalModel]:
    """The bundled model (when installed) first, then the pulled ones."""
    models: list[LocalModel] = []
    bundled = find_bundled_model()
    if bundled is not None:
        models.append(
            LocalModel(name=BUNDLED_NAME, path=bundled, size=bundled.stat().st_size, bundled=True)
        )
    return models + pulled_models(cache_dir)


def resolve_local_model(name: str, *, cache_dir: Path) -> LocalModel:
    """What ``--local-model NAME`` or ``/model NAME`` means: a file, or a model in the cache.

    NAME is a path to a GGUF file, ``smollm2-135m`` (the bundled model), a short
    name (``qwen2.5-0.5b``), ``REPO:QUANT`` or ``REPO/FILE.gguf`` of a pulled model.
    Raises ConfigError naming the pulled models and the pull command otherwise.
    """
    raw = name.strip()
    path = Path(raw).expanduser()
    if path.is_file():
        return LocalModel(name=path.stem, path=path, size=path.stat().st_size)
    models = available_models(cache_dir)
    lowered = raw.lower()
    for model in models:
        bundled_file = model.bundled and lowered == BUNDLED_MODEL_FILE.lower()
        if model.name.lower() == lowered or bundled_file:
            return model
    match = _match_spec(raw, models)
    if match is not None:
        return match
    looks_like_path = raw.startswith((".", "~")) or raw.startswith(os.sep)
    if looks_like_path or (raw.lower().endswith(".gguf") and raw.count("/") < 2):
        raise ConfigError(_("no model file at {path}").format(path=path))
    known = ", ".join(model.name for model in models) or "none"
    hint = f"chatbot pull {raw}" if _pullable(raw) else "chatbot pull MODEL"
    raise ConfigError(
        _("no local model {raw!r}; local models: {known}. Download one with: {hint}").format(
            raw=raw, known=known, hint=hint
        )
    )


def _pullable(raw: str) -> bool:
    try:
        parse_model_spec(raw)
    except ConfigError:
        return False
    return True


def _match_spec(raw: str, models: list[LocalModel]) -> LocalModel | None:
    """A pulled model named by ``REPO:QUANT`` (or a short name of another spelling)."""
    try:
        spec = parse_model_spec(raw)
    except ConfigError:
        return None
    for model in models:
        if model.repo is None or model.repo.lower() != spec.repo.lower():
            continue
        filename = model.path.name
        if spec.filename is not None and spec.filename.rsplit("/", 1)[-1] == filename:
            return model
        if spec.quant is not None and spec.quant.lower() in filename.lower():
            return model
    return None


def format_size(size: int) -> str:
    """``491.4 MB``, ``1.06 GB``: decimal units, as download sizes are usually given."""
    if size >= 1_000_000_000:
        return f"{size / 1e9:.2f} GB"
    return f"{size / 1e6:.1f} MB"
