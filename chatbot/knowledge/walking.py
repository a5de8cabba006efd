"""The files a base's paths name: files as given, folders walked recursively.

Hidden files and folders (``.git``, ``.venv``, editors' ``.swp`` files) and a few
well-known folders of generated files are left out; symbolic links to files are
followed, links to folders are not (a link back up would walk forever). Only
``stat`` is called here, so a walk of thousands of unchanged files takes
milliseconds.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Found", "Walk", "walk_roots"]

#: Folders of generated or vendored files, never documents.
_GENERATED = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})


@dataclass(frozen=True, slots=True)
class Found:
    """A regular file to consider, with what ``stat`` said about it."""

    path: str
    #: How sources name it: the root folder's name and the path under it.
    label: str
    size: int
    mtime_ns: int


@dataclass(slots=True)
class Walk:
    files: list[Found] = field(default_factory=list)
    #: Roots that no longer exist (their files are dropped from the base).
    missing: list[str] = field(default_factory=list)
    #: Hidden or generated files and folders left out.
    hidden: int = 0


def walk_roots(roots: list[Path]) -> Walk:
    """Every file under ``roots``, each once, in a stable order."""
    walk = Walk()
    seen: set[str] = set()
    for root in roots:
        try:
            info = os.stat(root)
        except OSError:
            walk.missing.append(str(root))
            continue
        if stat.S_ISDIR(info.st_mode):
            _walk_folder(root, walk, seen)
        elif stat.S_ISREG(info.st_mode):
            _add(walk, seen, str(root), root.name or str(root), info)
    return walk


def _walk_folder(root: Path, walk: Walk, seen: set[str]) -> None:
    prefix = root.name or str(root)
    for folder, dirs, files in os.walk(root, followlinks=False):
        kept = [d for d in dirs if not d.startswith(".") and d not in _GENERATED]
        walk.hidden += len(dirs) - len(kept)
        dirs[:] = sorted(kept)
        relative = os.path.relpath(folder, root)
        for name in sorted(files):
            if name.startswith("."):
                walk.hidden += 1
                continue
            path = os.path.join(folder, name)
            try:
                info = os.stat(path)
            except OSError:
                continue  # a dangling link, or gone since listed
            if not stat.S_ISREG(info.st_mode):
                continue
            label = f"{prefix}/{name}" if relative == "." else f"{prefix}/{relative}/{name}"
            _add(walk, seen, path, label, info)


def _add(walk: Walk, seen: set[str], path: str, label: str, info: os.stat_result) -> None:
    if path in seen:
        return
    seen.add(path)
    walk.files.append(Found(path=path, label=label, size=info.st_size, mtime_ns=info.st_mtime_ns))
