"""Finding every translatable message: in our code, the shipped personas, and argparse.

A message is the literal argument of ``_()``, ``N_()``, ``ngettext()`` or
``pgettext()``. Anything else passed to them (a variable, an f-string) would
escape the catalogue, so it is reported as a problem instead.
"""

from __future__ import annotations

import argparse
import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Found", "Problem", "extract_all", "extract_python"]

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "chatbot"
#: Personas whose description and greeting are shown translated.
PERSONA_FILES = ("chatbot/settings/personas.toml", "chatbot/settings/local-personas.toml")
#: The persona keys a person reads (the system prompt is for the model, and stays).
PERSONA_KEYS = ("description", "greeting")
#: Our own modules that call the gettext functions with variables on purpose.
_PASS_THROUGH = ("chatbot/i18n.py",)
#: Where argparse's own words come from; their placeholders are %-style.
ARGPARSE = "argparse"

_SINGLE = ("_", "N_")


@dataclass(frozen=True, slots=True)
class Found:
    msgid: str
    plural: str | None
    context: str | None
    reference: str


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    what: str


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def extract_python(source: str, *, reference: str) -> tuple[list[Found], list[Problem]]:
    """Messages in one module's source, and calls whose message is not a literal."""
    found: list[Found] = []
    problems: list[Problem] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        name = node.func.id
        where = f"{reference}:{node.lineno}"
        if name in _SINGLE:
            if not node.args:
                continue
            text = _literal(node.args[0])
            if text is None:
                problems.append(Problem(where, f"{name}() needs a string literal"))
            else:
                found.append(Found(text, None, None, reference))
        elif name == "ngettext" and len(node.args) >= 2:
            singular, plural = _literal(node.args[0]), _literal(node.args[1])
            if singular is None or plural is None:
                problems.append(Problem(where, "ngettext() needs string literals"))
            else:
                found.append(Found(singular, plural, None, reference))
        elif name == "pgettext" and len(node.args) >= 2:
            context, text = _literal(node.args[0]), _literal(node.args[1])
            if context is None or text is None:
                problems.append(Problem(where, "pgettext() needs string literals"))
            else:
                found.append(Found(text, None, context, reference))
    return found, problems


def _python_files() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def _personas() -> Iterator[Found]:
    for relative in PERSONA_FILES:
        document = tomllib.loads((ROOT / relative).read_text(encoding="utf-8"))
        for table in document.get("personas", {}).values():
            for key in PERSONA_KEYS:
                value = table.get(key)
                if isinstance(value, str) and value:
                    yield Found(value, None, None, relative)


def _argparse() -> list[Found]:
    source = Path(argparse.__file__).read_text(encoding="utf-8")
    found, _ = extract_python(source, reference=ARGPARSE)
    return found


def extract_all() -> tuple[list[Found], list[Problem]]:
    """Every message the program can show, in a stable order, and every problem."""
    found: list[Found] = []
    problems: list[Problem] = []
    for path in _python_files():
        reference = path.relative_to(ROOT).as_posix()
        more, trouble = extract_python(path.read_text(encoding="utf-8"), reference=reference)
        found += more
        if reference not in _PASS_THROUGH:
            problems += trouble
    found += _personas()
    found += _argparse()
    return found, problems
