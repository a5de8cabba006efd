"""Real documents nobody here wrote, with questions nobody here wrote, for retrieval.

- Python's FAQ (``faq/*.rst.txt`` in Debian's ``python3.X-doc``, PSF licence): each
  question heading is a query, and is taken out of the indexed text (its underline
  stays, over a placeholder, so the section is still a section).
- The Debian Reference, English and Japanese (``debian-reference-en``/``-ja``, GPL-2+):
  each section title is a query (the Japanese edition translates them), taken out of
  the text everywhere it appears; the Japanese questions are also asked of the
  English edition (across languages, where only vectors can help).

The packages are fetched with ``apt-get download`` into a cache folder when the
benchmark is set up, never at import. A passage answers a query when its heading path
holds the query's placeholder (a section's subsections answer for it too).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Corpus", "Query", "debian_reference", "fetch_packages", "python_faq"]

_PYTHON_DOCS = ("python3.11-doc", "python3.12-doc", "python3.13-doc", "python3-doc")


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    #: The heading path element that marks a passage as an answer.
    marker: str


@dataclass(frozen=True, slots=True)
class Corpus:
    name: str
    #: A folder of documents ready to index.
    folder: Path
    queries: tuple[Query, ...]


class CorpusUnavailable(Exception):
    """The packages could not be fetched (no apt, no network to Debian)."""


def fetch_packages(names: tuple[str, ...], *, cache: Path) -> Path:
    """Download (once) and unpack the first available of each group; returns the root."""
    root = cache / "unpacked"
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for name in names:
        candidates = _PYTHON_DOCS if name == "python3-doc" else (name,)
        if any(next(debs.glob(f"{c}_*.deb"), None) for c in candidates):
            continue
        for candidate in candidates:
            if _download(candidate, debs):
                break
        else:
            raise CorpusUnavailable(f"apt-get download {name} failed (is apt reachable?)")
    root.mkdir(exist_ok=True)
    for deb in sorted(debs.glob("*.deb")):
        unpacked = root / f".{deb.name}.unpacked"
        if not unpacked.exists():
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            unpacked.touch()
    return root


def _download(package: str, folder: Path) -> bool:
    if shutil.which("apt-get") is None:
        raise CorpusUnavailable("apt-get is not here: the corpora are Debian packages")
    for attempt in range(2):
        done = subprocess.run(
            ["apt-get", "download", "-q", package], cwd=folder, capture_output=True, check=False
        )
        if done.returncode == 0:
            return True
        if attempt == 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
    return False


# -- Python's FAQ ---------------------------------------------------------------------

_QUESTION = re.compile(r"^(?P<title>[^\n]+\?)\n(?P<rule>-{3,})$", re.MULTILINE)


def python_faq(root: Path, *, into: Path, files: tuple[str, ...] | None = None) -> Corpus:
    """The FAQ with its question headings swapped for placeholders."""
    # The package has the docs under one folder and a link to it under another.
    found = sorted(
        {p.resolve(): p for p in root.glob("usr/share/doc/python3*/html/_sources/faq/*.rst.txt")}
    )
    if not found:
        raise CorpusUnavailable("no faq/*.rst.txt in the python3.X-doc package")
    into.mkdir(parents=True, exist_ok=True)
    queries: list[Query] = []
    for path in found:
        if path.name == "index.rst.txt" or (files is not None and path.name not in files):
            continue
        text = path.read_text(encoding="utf-8")

        def swap(match: re.Match[str], stem: str = path.name.split(".")[0]) -> str:
            marker = f"Q-{stem}-{len(queries) + 1}"
            queries.append(Query(text=match.group("title").strip(), marker=marker))
            return f"{marker}\n{'-' * len(marker)}"

        (into / path.name).write_text(_QUESTION.sub(swap, text), encoding="utf-8")
    return Corpus(name="python-faq", folder=into, queries=tuple(queries))


# -- The Debian Reference -------------------------------------------------------------

_SECTION = re.compile(
    r'(?P<open><h(?P<level>[2-4]) class="title"[^>]*>(?:<a [^>]*/>|<a [^>]*></a>)*)'
    r"(?P<number>\d+(?:\.\d+)+)\.\s*(?P<title>.*?)(?P<close></h(?P=level)>)",
    re.DOTALL,
)
_TAGS = re.compile(r"<[^>]+>")


def debian_reference(
    root: Path, *, lang: str, into: Path, chapters: tuple[str, ...] | None = None
) -> Corpus:
    """The chapters in ``lang`` with every section title taken out of the text."""
    folder = root / "usr/share/debian-reference"
    found = sorted(folder.glob(f"ch[0-9][0-9].{lang}.html"))
    if not found:
        raise CorpusUnavailable(f"no chapters in debian-reference-{lang}")
    into.mkdir(parents=True, exist_ok=True)
    queries: list[Query] = []
    for path in found:
        if chapters is not None and path.name.split(".")[0] not in chapters:
            continue
        page = path.read_text(encoding="utf-8")
        titles: list[str] = []

        def swap(match: re.Match[str], titles: list[str] = titles) -> str:
            number = match.group("number")
            inner = match.group("title")
            text = " ".join(html.unescape(_TAGS.sub("", inner)).split())
            if text:
                queries.append(Query(text=text, marker=f"{number}."))
                titles.append(inner)
            return f"{match.group('open')}{number}.{match.group('close')}"

        page = _SECTION.sub(swap, page)
        # Cross-references quote titles ("Section 3.1.1, “Stage 1: the UEFI”"): out too.
        for inner in sorted(set(titles), key=len, reverse=True):
            if len(inner) > 3:
                page = page.replace(inner, "")
        (into / path.name).write_text(page, encoding="utf-8")
    return Corpus(name=f"debian-reference-{lang}", folder=into, queries=tuple(queries))


def answers(heading: str, marker: str) -> bool:
    """Whether a passage under ``heading`` answers the query marked ``marker``."""
    return marker in heading.split(" › ")
