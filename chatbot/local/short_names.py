"""What ``chatbot pull MODEL`` accepts: a short name, ``REPO:QUANT`` or ``REPO/FILE.gguf``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatbot.errors import ConfigError
from chatbot.i18n import N_, _

__all__ = ["SHORT_NAMES", "ModelSpec", "ShortName", "parse_model_spec", "short_name_for"]

#: A Hugging Face repository id: ``owner/name``.
_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True, kw_only=True, slots=True)
class ShortName:
    """A recommended small instruct model, pullable by ``name``."""

    name: str
    repo: str
    filename: str
    #: For ``chatbot pull`` without a model and the README's table.
    description: str


#: Small instruct models that answer well on a laptop CPU, as Q4_K_M GGUF files.
SHORT_NAMES: tuple[ShortName, ...] = (
    ShortName(
        name="qwen2.5-0.5b",
        repo="Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        filename="qwen2.5-0.5b-instruct-q4_k_m.gguf",
        description=N_("Qwen2.5 0.5B Instruct: the fastest that answers well, multilingual"),
    ),
    ShortName(
        name="qwen2.5-1.5b",
        repo="Qwen/Qwen2.5-1.5B-Instruct-GGUF",
        filename="qwen2.5-1.5b-instruct-q4_k_m.gguf",
        description=N_(
            "Qwen2.5 1.5B Instruct: clearly better answers, multilingual (incl. Japanese)"
        ),
    ),
    ShortName(
        name="smollm2-1.7b",
        repo="bartowski/SmolLM2-1.7B-Instruct-GGUF",
        filename="SmolLM2-1.7B-Instruct-Q4_K_M.gguf",
        description=N_("SmolLM2 1.7B Instruct: the bundled model's big sibling, English"),
    ),
    ShortName(
        name="llama3.2-1b",
        repo="bartowski/Llama-3.2-1B-Instruct-GGUF",
        filename="Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        description=N_("Llama 3.2 1B Instruct: a good all-rounder, English first"),
    ),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelSpec:
    """One GGUF file to pull: ``filename`` is known, or found by ``quant`` in the listing."""

    repo: str
    filename: str | None = None
    quant: str | None = None
    #: The short name the user typed, if any.
    short_name: str | None = None

    def describe(self) -> str:
        if self.filename:
            return f"{self.repo}/{self.filename}"
        return f"{self.repo}:{self.quant}"


def short_name_for(repo: str, filename: str) -> str | None:
    """The short name of a pulled file, if it is one of ours."""
    for short in SHORT_NAMES:
        if short.repo.lower() == repo.lower() and short.filename == filename:
            return short.name
    return None


def parse_model_spec(text: str) -> ModelSpec:
    """``qwen2.5-0.5b``, ``Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M`` or ``owner/repo/file.gguf``.

    Raises ConfigError, naming the accepted forms, for anything else.
    """
    raw = text.strip()
    for short in SHORT_NAMES:
        if raw.lower() == short.name:
            return ModelSpec(repo=short.repo, filename=short.filename, short_name=short.name)
    if raw.lower().endswith(".gguf") and raw.count("/") >= 2:
        owner, name, filename = raw.split("/", 2)
        repo = f"{owner}/{name}"
        if _REPO.match(repo) and ".." not in filename.split("/"):
            return ModelSpec(repo=repo, filename=filename)
    repo, colon, quant = raw.partition(":")
    if colon and quant.strip() and _REPO.match(repo) and re.fullmatch(r"[\w.-]+", quant):
        return ModelSpec(repo=repo, quant=quant)
    names = ", ".join(short.name for short in SHORT_NAMES)
    raise ConfigError(
        _(
            "cannot pull {raw!r}: give a short name ({names}), REPO:QUANT (e.g. "
            "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M) or REPO/FILE.gguf"
        ).format(raw=raw, names=names)
    )
