"""The package's shape: layers that import only downwards, no import circle, names by role.

Every import counts, including those under ``if TYPE_CHECKING:`` and inside functions:
an arrow that runs back up is a design problem whether or not it runs at start-up.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import chatbot

PACKAGE = Path(chatbot.__file__).parent

#: Lowest first. A module may import from its own layer and the ones below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "secrets", "text", "tokens", "i18n", "cells"),  # the ground floor
    ("settings",),  # what the user asked for
    ("api", "render"),  # the wire; drawing a reply
    ("local",),  # our llama.cpp process and local models
    ("servers",),  # which server: remote, Ollama, ours
    ("conversation",),  # the live session
    ("store",),  # SQLite
    ("tools",),  # shell and MCP
    ("knowledge",),  # the user's documents
    ("engine",),  # plan, open, build: set-up for any front end
    ("repl", "web"),  # the two front ends
    ("cli", "app", "__main__", "__init__"),  # the command
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every chatbot module ``path`` imports, resolved to module names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chatbot"):
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in known
            )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("chatbot"))
    return found & known


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_layer_imports_only_from_its_own_or_lower_layers() -> None:
    modules = _modules()
    known = set(modules)
    upward = []
    for module, path in sorted(modules.items()):
        layer = _layer(module)
        assert layer in RANK, f"{module}: its package {layer!r} has no place in LAYERS"
        for imported in sorted(_imports(path, known)):
            if RANK[_layer(imported)] > RANK[layer]:
                upward.append(f"{module} -> {imported}")
    assert upward == []


def test_no_import_circle_even_through_type_only_imports() -> None:
    modules = _modules()
    known = set(modules)
    graph = {module: _imports(path, known) - {module} for module, path in modules.items()}
    # A package's __init__ re-exporting its own modules is not a circle with them.
    for module in graph:
        graph[module] = {m for m in graph[module] if not module.startswith(m + ".")}
    circles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                circles.append([*stack[stack.index(imported) :], imported])
            elif imported not in state:
                visit(imported)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert circles == []


def test_no_two_modules_share_a_file_name() -> None:
    names = Counter(path.name for path in PACKAGE.rglob("*.py") if path.name != "__init__.py")
    assert [name for name, count in names.items() if count > 1] == []


def test_each_package_says_in_its_init_what_it_is() -> None:
    vague = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        first = doc.split("\n\n")[0].strip()
        if len(first.split()) < 6:
            vague.append(f"{init.relative_to(PACKAGE)}: {first!r}")
    assert vague == []
