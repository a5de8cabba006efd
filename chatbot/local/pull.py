"""``chatbot pull MODEL``: download a GGUF file into huggingface_hub's cache, with a progress bar.

huggingface_hub does the work: its cache (shared with other tools), its resumable
downloads (an interrupted download stays as ``blobs/*.incomplete`` and the next
pull asks only for the rest), its progress bar. This module decides which file,
checks the disk first, and turns every failure into one line. Only ``chatbot
pull`` imports it: huggingface_hub takes a while to load.
"""

from __future__ import annotations

import errno
import logging
import re
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from chatbot.errors import ConfigError, PullFailed, PullInterrupted
from chatbot.i18n import _
from chatbot.local.model_cache import LocalModel, format_size, hub_cache_dir, pulled_models
from chatbot.local.short_names import ModelSpec, parse_model_spec, short_name_for

if TYPE_CHECKING:
    from huggingface_hub import HfApi

__all__ = ["DEFAULT_ENDPOINT", "PullResult", "choose_file", "pull_model"]

DEFAULT_ENDPOINT = "https://huggingface.co"
#: Seconds to wait for the hub to answer before calling it unreachable.
_HUB_TIMEOUT = 10.0
#: Times a download that dropped mid-file is resumed before giving up.
_DROP_RETRIES = 3


@dataclass(frozen=True, kw_only=True, slots=True)
class PullResult:
    model: LocalModel
    #: False when the file was already in the cache and nothing was downloaded.
    downloaded: bool


def _offline(environ: Mapping[str, str]) -> bool:
    value = environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return value in {"1", "true", "yes", "on"}


def _token(environ: Mapping[str, str], cache_dir: Path) -> str | bool:
    """``HF_TOKEN``, else the one ``hf auth login`` saved, else False (ask anonymously)."""
    if environ.get("HF_TOKEN"):
        return environ["HF_TOKEN"]
    saved = cache_dir.parent / "token"
    try:
        return saved.read_text(encoding="utf-8").strip() or False
    except OSError:
        return False


def choose_file(files: list[str], *, repo: str, quant: str) -> str:
    """The one GGUF file of ``files`` whose name carries ``quant`` (``Q4_K_M``) as a word."""
    pattern = re.compile(rf"(?<![a-z0-9]){re.escape(quant.lower())}(?![a-z0-9_])")
    ggufs = [name for name in files if name.lower().endswith(".gguf")]
    matches = [name for name in ggufs if pattern.search(name.rsplit("/", 1)[-1].lower())]
    whole = [name for name in matches if not re.search(r"-\d{5}-of-\d{5}\.gguf$", name.lower())]
    if whole:
        return min(whole, key=len)
    if matches:
        raise PullFailed(
            _("{repo}'s {quant} model is split into parts, which --local cannot load").format(
                repo=repo, quant=quant
            )
        )
    if not ggufs:
        raise PullFailed(
            _("{repo} has no GGUF files: --local needs a GGUF model").format(repo=repo)
        )
    quants = sorted({_quant_of(name) for name in ggufs} - {""})
    raise PullFailed(
        _("{repo} has no {quant} file; it has: {files}").format(
            repo=repo, quant=quant, files=", ".join(quants) or ", ".join(ggufs)
        )
    )


def _quant_of(filename: str) -> str:
    match = re.search(r"(?i)[-_.]((?:i?q\d\w*)|f16|bf16|f32)\.gguf$", filename)
    return match.group(1).upper() if match else ""


def _progress_class(stream: TextIO, label: str) -> type[Any]:
    """huggingface_hub's progress bar (tqdm), drawn on ``stream`` and labelled ``label``."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    class Progress(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("file", stream)
            kwargs.setdefault("mininterval", 0.25)
            kwargs.setdefault("ncols", 80)
            kwargs.pop("name", None)
            # It would show the download URL; the file name is what the user asked for.
            kwargs["desc"] = label
            super().__init__(*args, **kwargs)

    return Progress


def _partial_bytes(cache_dir: Path, repo: str) -> int:
    folder = cache_dir / ("models--" + repo.replace("/", "--")) / "blobs"
    try:
        return sum(path.stat().st_size for path in folder.glob("*.incomplete"))
    except OSError:
        return 0


def _discard_partial(cache_dir: Path, repo: str) -> None:
    folder = cache_dir / ("models--" + repo.replace("/", "--")) / "blobs"
    for path in folder.glob("*.incomplete"):
        path.unlink(missing_ok=True)


def _free_space(folder: Path) -> int | None:
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def _unreachable(endpoint: str, cache_dir: Path, cause: BaseException | None = None) -> PullFailed:
    names = ", ".join(model.name for model in pulled_models(cache_dir)) or "none"
    why = f" ({type(cause).__name__})" if cause is not None else ""
    return PullFailed(
        _("cannot reach the model hub at {endpoint}{why}; pulled models: {names}").format(
            endpoint=endpoint, why=why, names=names
        )
    )


def _cached(spec: ModelSpec, cache_dir: Path) -> LocalModel | None:
    for model in pulled_models(cache_dir):
        if model.repo is None or model.repo.lower() != spec.repo.lower():
            continue
        if spec.filename is not None and model.path.name == spec.filename.rsplit("/", 1)[-1]:
            return model
        if spec.quant is not None:
            try:
                if choose_file([model.path.name], repo=spec.repo, quant=spec.quant):
                    return model
            except PullFailed:
                continue
    return None


def pull_model(
    text: str,
    *,
    environ: Mapping[str, str],
    progress: TextIO,
) -> PullResult:
    """Download the model ``text`` names (or find it already pulled) and return it.

    Raises PullFailed (one line) when the hub cannot be reached and the model is
    not in the cache, the repository or file does not exist, or the disk is full;
    PullInterrupted on Ctrl-C, keeping the partial file so the next pull resumes.
    """
    spec = parse_model_spec(text)
    cache_dir = hub_cache_dir(environ)
    endpoint = (environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    token = _token(environ, cache_dir)
    if _offline(environ):
        cached = _cached(spec, cache_dir)
        if cached is None:
            raise _unreachable(endpoint + " (HF_HUB_OFFLINE is set)", cache_dir)
        return PullResult(model=cached, downloaded=False)

    try:
        import httpx
        from huggingface_hub import HfApi, hf_hub_download
    except ImportError:
        raise ConfigError(
            _("chatbot pull needs the 'local' extra: pip install 'chatbot[local]'")
        ) from None
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    # Its warnings (retries, disk space) are several lines each; ours are one.
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    api = HfApi(endpoint=endpoint, token=token)
    size: int | None = None
    try:
        filename = spec.filename or _find_file(api, spec)
        size = _remote_size(api, spec.repo, filename)
        before = _partial_bytes(cache_dir, spec.repo)
        _check_disk(cache_dir, needed=None if size is None else size - before, spec=spec, size=size)
        already = _cached(ModelSpec(repo=spec.repo, filename=filename), cache_dir)
        for attempt in range(_DROP_RETRIES + 1):
            kept = _partial_bytes(cache_dir, spec.repo)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    path = hf_hub_download(
                        spec.repo,
                        filename,
                        cache_dir=cache_dir,
                        endpoint=endpoint,
                        token=token,
                        etag_timeout=_HUB_TIMEOUT,
                        tqdm_class=_progress_class(progress, filename.rsplit("/", 1)[-1]),
                    )
                break
            except httpx.TransportError:
                # The connection dropped mid-file: the partial file is kept, and the
                # next attempt asks only for the rest. Give up when nothing arrives.
                if attempt == _DROP_RETRIES or _partial_bytes(cache_dir, spec.repo) <= kept:
                    raise
    except KeyboardInterrupt:
        kept = _partial_bytes(cache_dir, spec.repo)
        raise PullInterrupted(
            _("pull interrupted; {size} kept: run the same command to resume").format(
                size=format_size(kept)
            )
        ) from None
    except GatedRepoError:
        raise PullFailed(
            _("{repo} is gated: accept its terms on the hub, then set HF_TOKEN").format(
                repo=spec.repo
            )
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError):
        raise PullFailed(
            _("no repository {repo} on the model hub (or it is private: set HF_TOKEN)").format(
                repo=spec.repo
            )
        ) from None
    except LocalEntryNotFoundError as exc:
        return _from_cache(spec, cache_dir, _unreachable(endpoint, cache_dir, exc.__cause__))
    except EntryNotFoundError:
        raise PullFailed(
            _("{repo} has no file {filename}").format(repo=spec.repo, filename=spec.filename)
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise PullFailed(
            _("the model hub answered HTTP {status} for {model}").format(
                status=status, model=spec.describe()
            )
        ) from None
    except (httpx.HTTPError, OfflineModeIsEnabled) as exc:
        kept = _partial_bytes(cache_dir, spec.repo)
        if kept:
            raise PullFailed(
                _(
                    "the connection to the model hub dropped ({name}); {size} kept: "
                    "run the same command to resume"
                ).format(name=type(exc).__name__, size=format_size(kept))
            ) from None
        return _from_cache(spec, cache_dir, _unreachable(endpoint, cache_dir, exc))
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise PullFailed(
                _("cannot write the model to {folder}: {reason}").format(
                    folder=cache_dir, reason=exc.strerror or exc
                )
            ) from None
        _discard_partial(cache_dir, spec.repo)
        raise PullFailed(
            _("the disk is full: {model} needs {size} in {folder}; nothing was kept").format(
                model=spec.describe(), size=_size_text(size), folder=cache_dir
            )
        ) from None
    model = LocalModel(
        name=short_name_for(spec.repo, filename) or f"{spec.repo}/{filename}",
        path=Path(path),
        size=Path(path).stat().st_size,
        repo=spec.repo,
    )
    return PullResult(model=model, downloaded=already is None)


def _from_cache(spec: ModelSpec, cache_dir: Path, failure: PullFailed) -> PullResult:
    """Offline: the model as already pulled, or ``failure``."""
    cached = _cached(spec, cache_dir)
    if cached is None:
        raise failure
    return PullResult(model=cached, downloaded=False)


def _find_file(api: HfApi, spec: ModelSpec) -> str:
    assert spec.quant is not None
    files = api.list_repo_files(spec.repo)
    return choose_file(list(files), repo=spec.repo, quant=spec.quant)


def _remote_size(api: HfApi, repo: str, filename: str) -> int | None:
    """The file's size from one HEAD request, to check the disk before writing anything."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo, filename, endpoint=api.endpoint)
    metadata = get_hf_file_metadata(url, token=api.token, timeout=_HUB_TIMEOUT)
    return metadata.size


def _size_text(size: int | None) -> str:
    return _("an unknown amount") if size is None else format_size(size)


def _check_disk(cache_dir: Path, *, needed: int | None, spec: ModelSpec, size: int | None) -> None:
    if needed is None or needed <= 0:
        return
    free = _free_space(cache_dir)
    # Keep some room: a disk filled to the last byte breaks other programs.
    if free is not None and free < needed + 50_000_000:
        raise ConfigError(
            _(
                "not enough disk space: {model} needs {size}, {folder} has "
                "{free} free; nothing was downloaded"
            ).format(
                model=spec.describe(),
                size=_size_text(size),
                folder=cache_dir,
                free=format_size(free),
            )
        )
