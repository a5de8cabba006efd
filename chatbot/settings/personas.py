"""Personas: named system prompts with their sampling settings, loaded from TOML.

The shipped ``chatbot/personas.toml`` is read first, then the user's file, then
each ``--personas PATH``. A later table with a known name updates only the keys
it sets and inherits the rest, so a user can retune one persona without copying
its prompt. Every problem in any file becomes one ``PersonaError`` line that
names the file; nothing else escapes ``load_personas``.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.errors import PersonaError
from chatbot.i18n import _, quote
from chatbot.settings.limits import (
    CONTEXT_WINDOW,
    KNOWLEDGE_SHARE,
    MAX_TOKENS,
    PROVIDERS,
    TEMPERATURE,
    TOP_P,
    OverflowPolicy,
    Range,
    ThinkMode,
)
from chatbot.settings.tomlfile import (
    decode_utf8,
    one_line,
    os_reason,
    parse_toml,
    read_limited,
    toml_type,
)

__all__ = [
    "MAX_FILE_BYTES",
    "Persona",
    "PersonaBook",
    "PersonaSources",
    "format_persona_list",
    "load_personas",
    "read_persona_sources",
]

#: Larger files are refused unread: a personas file is a page of prompts, not data.
MAX_FILE_BYTES = 1024 * 1024

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_TOOL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_MAX_STOPS = 4  # the OpenAI API accepts at most four stop sequences
_AD_HOC_NAME = "custom"


@dataclass(frozen=True, kw_only=True, slots=True)
class Persona:
    """A named system prompt plus the request settings that go with it."""

    name: str
    description: str
    system: str
    model: str | None = None
    temperature: float | None = None  # 0..2
    top_p: float | None = None  # 0..1
    max_tokens: int | None = None  # > 0
    stop: tuple[str, ...] | None = None
    greeting: str | None = None
    context_window: int | None = None  # > 0; overrides the model table
    cache: bool = False  # response cache opt-in
    overflow: OverflowPolicy | None = None
    provider: str | None = None  # None | "local"
    think: ThinkMode | None = None  # how thinking is shown
    #: Tools offered: "shell", "*" (every MCP server), server or server__tool names.
    tools: tuple[str, ...] | None = None  # None: every MCP server, no shell
    #: Knowledge bases searched for every question (``chatbot knowledge add``).
    knowledge: tuple[str, ...] | None = None
    knowledge_share: float | None = None  # 0.05..0.9 of the prompt budget for passages
    source: str = ""  # file it came from, for messages


class PersonaBook:
    """Personas by name, in the order their files first defined them.

    Iterating yields ``Persona`` objects; ``in`` and ``get`` take a name, matched
    case-insensitively.
    """

    __slots__ = ("_personas",)

    def __init__(self, personas: Sequence[Persona] = ()) -> None:
        self._personas: dict[str, Persona] = {p.name: p for p in personas}

    def get(self, name: str) -> Persona:
        """The persona called ``name``; ``PersonaError`` listing the choices if none is."""
        persona = self._personas.get(name.strip().lower())
        if persona is None:
            available = ", ".join(self._personas) or _("none defined")
            raise PersonaError(
                _("unknown persona {quote} (available: {available})").format(
                    quote=_quote(name), available=available
                )
            )
        return persona

    def __getitem__(self, name: str) -> Persona:
        return self.get(name)

    def names(self) -> list[str]:
        """Persona names in file order."""
        return list(self._personas)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().lower() in self._personas

    def __iter__(self) -> Iterator[Persona]:
        return iter(tuple(self._personas.values()))

    def __len__(self) -> int:
        return len(self._personas)

    def __repr__(self) -> str:
        return f"PersonaBook({self.names()!r})"

    def ad_hoc(self, system: str, *, base: Persona | None = None) -> Persona:
        """The persona behind ``/system TEXT``.

        With ``base``, its model and sampling settings carry over so that
        changing the prompt mid-chat does not silently change the model too.
        """
        text = system.strip()
        if not text:
            raise PersonaError(_("/system: the system prompt is empty"))
        description = _("custom system prompt (set with /system)")
        if base is None:
            return Persona(
                name=_AD_HOC_NAME, description=description, system=text, source="/system"
            )
        return dataclasses.replace(
            base,
            name=_AD_HOC_NAME,
            description=description,
            system=text,
            greeting=None,
            source="/system",
        )

    def _put(self, persona: Persona) -> None:
        self._personas[persona.name] = persona


def format_persona_list(book: PersonaBook) -> list[tuple[str, str]]:
    """(name, description) rows for ``--list-personas`` and ``/persona``."""
    return [(p.name, p.description) for p in book]


@dataclass(frozen=True, slots=True)
class _Layer:
    """One personas file, read and checked: each table's validated fields, in file order."""

    label: str
    tables: tuple[tuple[str, dict[str, Any]], ...]


class PersonaSources:
    """Every personas file of a run, read and checked once.

    Which book a run uses depends on the server it ends up on (the embedded model
    takes its tuned settings, ``local-personas.toml``), which may be known only after
    looking for a server: :meth:`book` merges the layers for either, without
    reading any file again.
    """

    def __init__(
        self, *, shipped: Sequence[_Layer], local: Sequence[_Layer], user: Sequence[_Layer]
    ):
        self._shipped = tuple(shipped)
        self._local = tuple(local)
        self._user = tuple(user)
        self._books: dict[bool, PersonaBook] = {}

    def book(self, *, local: bool = False) -> PersonaBook:
        """The personas as the shipped, (local,) user and ``--personas`` files define them."""
        if local not in self._books:
            book = PersonaBook()
            for layer in (*self._shipped, *(self._local if local else ()), *self._user):
                _merge_layer(book, layer)
            self._books[local] = book
        return self._books[local]


def read_persona_sources(
    *,
    builtin: bool = True,
    user_file: Path | None = None,
    extra_files: Sequence[Path] = (),
) -> PersonaSources:
    """Read and check the shipped personas, the user's file (may be absent) and each extra file.

    Extra files come from ``--personas PATH``, so a missing one is an error:
    the user asked for it by name.
    """
    shipped = [_builtin_layer("personas.toml")] if builtin else []
    local = [_builtin_layer("local-personas.toml")] if builtin else []
    user: list[_Layer] = []
    if user_file is not None:
        user.extend(_file_layer(user_file, missing_ok=True))
    for path in extra_files:
        user.extend(_file_layer(path, missing_ok=False))
    sources = PersonaSources(shipped=shipped, local=local, user=user)
    sources.book()  # a table that defines a persona without a prompt is an error now
    return sources


def load_personas(
    *,
    builtin: bool = True,
    user_file: Path | None = None,
    extra_files: Sequence[Path] = (),
    local: bool = False,
) -> PersonaBook:
    """The book of :func:`read_persona_sources`; with ``local``, the embedded model's."""
    sources = read_persona_sources(builtin=builtin, user_file=user_file, extra_files=extra_files)
    return sources.book(local=local)


# --- reading ----------------------------------------------------------------


def _builtin_layer(name: str) -> _Layer:
    resource = importlib.resources.files("chatbot.settings") / name
    label = str(resource)
    try:
        data = resource.read_bytes()
    except (OSError, ValueError) as exc:
        raise PersonaError(
            _("{label}: cannot read built-in personas: {os_reason}").format(
                label=label, os_reason=os_reason(exc)
            )
        ) from None
    return _read_layer(_decode(data, label=label), label=label)


def _file_layer(path: Path, *, missing_ok: bool) -> list[_Layer]:
    label = _quote_path(path)
    data = _read_bytes(path, label=label, missing_ok=missing_ok)
    return [] if data is None else [_read_layer(_decode(data, label=label), label=label)]


def _read_bytes(path: Path, *, label: str, missing_ok: bool) -> bytes | None:
    return read_limited(
        path,
        label=label,
        what=_("personas file"),
        error=PersonaError,
        missing_ok=missing_ok,
        max_bytes=MAX_FILE_BYTES,
    )


def _decode(data: bytes, *, label: str) -> str:
    return decode_utf8(data, label=label, error=PersonaError)


def _parse(text: str, *, label: str) -> dict[str, object]:
    return parse_toml(text, label=label, error=PersonaError)


# --- validating -------------------------------------------------------------


def _read_layer(text: str, *, label: str) -> _Layer:
    document = _parse(text, label=label)
    for key in document:
        if key != "personas":
            raise PersonaError(
                _(
                    "{label}: unknown top-level key {quote} (each persona goes in a "
                    "[personas.NAME] table)"
                ).format(label=label, quote=_quote(key))
            )
    tables = document.get("personas", {})
    if not isinstance(tables, dict):
        raise PersonaError(
            _(
                "{label}: 'personas' must be a table of [personas.NAME] tables, got {toml_type}"
            ).format(label=label, toml_type=toml_type(tables))
        )
    checked: list[tuple[str, dict[str, Any]]] = []
    for name, table in tables.items():
        if not _NAME_RE.fullmatch(name):
            raise PersonaError(
                _(
                    "{label}: invalid persona name {quote} (use up to 64 lowercase "
                    "letters, digits, '-' and '_', starting with a letter or digit)"
                ).format(label=label, quote=_quote(name))
            )
        where = f"{label}: persona {_quote(name)}"
        if not isinstance(table, dict):
            raise PersonaError(
                _("{where} must be a table, got {toml_type}").format(
                    where=where, toml_type=toml_type(table)
                )
            )
        checked.append((name, _fields(table, where=where)))
    return _Layer(label=label, tables=tuple(checked))


def _merge_layer(book: PersonaBook, layer: _Layer) -> None:
    label = layer.label
    for name, fields in layer.tables:
        if name in book:
            # A known name updates only the keys it sets (documented in personas.toml).
            persona = dataclasses.replace(book.get(name), source=label, **fields)
        else:
            if "system" not in fields:
                where = f"{label}: persona {_quote(name)}"
                raise PersonaError(
                    _("{where}: missing 'system' (the system prompt)").format(where=where)
                )
            blank = Persona(name=name, description="", system="", source=label)
            persona = dataclasses.replace(blank, **fields)
        book._put(persona)


def _fields(table: dict[str, object], *, where: str) -> dict[str, Any]:
    # Any: each value has passed the check for its key, which mypy cannot follow.
    fields: dict[str, Any] = {}
    for key, value in table.items():
        check = _CHECKS.get(key)
        if check is None:
            raise PersonaError(
                _("{where}: {unknown_key}").format(where=where, unknown_key=_unknown_key(key))
            )
        try:
            fields[key] = check(key, value)
        except _Invalid as exc:
            raise PersonaError(_("{where}: {error}").format(where=where, error=exc)) from None
    return fields


def _unknown_key(key: str) -> str:
    allowed = ", ".join(sorted(_CHECKS))
    close = difflib.get_close_matches(key, _CHECKS, n=1)
    if close:
        return _("unknown key {key} (did you mean {close!r}? allowed: {allowed})").format(
            key=_quote(key), close=close[0], allowed=allowed
        )
    return _("unknown key {key} (allowed: {allowed})").format(key=_quote(key), allowed=allowed)


class _Invalid(Exception):
    """A value failed its check; the loader adds the file and persona."""


def _check_system(key: str, value: object) -> str:
    text = _check_string(key, value).strip()
    if not text:
        raise _Invalid(_("system prompt is empty"))
    return text


def _check_description(key: str, value: object) -> str:
    text = _check_string(key, value).strip()
    # Shown one per line in --list-personas, so it must stay one clean line.
    if not text.isprintable():
        raise _Invalid(_("description must be one line without control characters"))
    return text


def _check_greeting(key: str, value: object) -> str:
    text = _check_string(key, value).strip()
    if not text.replace("\n", "").replace("\t", "").isprintable():
        raise _Invalid(_("greeting must not contain control characters other than newline and tab"))
    return text


def _check_model(key: str, value: object) -> str:
    text = _check_string(key, value).strip()
    if not text or not text.isprintable():
        raise _Invalid(_("model must be a non-empty model name"))
    return text


def _check_string(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(
            _("{key} must be a string, got {toml_type}").format(key=key, toml_type=toml_type(value))
        )
    return value


def _number_check(limits: Range) -> Callable[[str, object], float]:
    def check(key: str, value: object) -> float:
        # bool is an int in Python, but TOML `true` is not a temperature.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid(
                _("{key} must be a number, got {toml_type}").format(
                    key=key, toml_type=toml_type(value)
                )
            )
        if not limits.contains(value):
            raise _Invalid(
                _("{key} must be between {low:g} and {high:g}, got {value}").format(
                    key=key, low=limits.low, high=limits.high, value=value
                )
            )
        return float(value)

    return check


def _positive_int_check(limits: Range) -> Callable[[str, object], int]:
    def check(key: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(
                _("{key} must be a positive integer, got {toml_type}").format(
                    key=key, toml_type=toml_type(value)
                )
            )
        if not limits.contains(value):
            shown = value if abs(value) < 10**12 else _("a huge number")
            raise _Invalid(
                _("{key} must be a positive integer up to {high:,.0f}, got {shown}").format(
                    key=key, high=limits.high, shown=shown
                )
            )
        return value

    return check


def _check_stop(key: str, value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or not 1 <= len(items) <= _MAX_STOPS
        or not all(isinstance(item, str) and item for item in items)
    ):
        raise _Invalid(
            _(
                "{key} must be a non-empty string or a list of 1 to {count} "
                "non-empty strings, got {toml_type}"
            ).format(key=key, count=_MAX_STOPS, toml_type=toml_type(value))
        )
    return tuple(items)


def _check_bool(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(
            _("{key} must be true or false, got {toml_type}").format(
                key=key, toml_type=toml_type(value)
            )
        )
    return value


def _check_tools(key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid(
            _("{key} must be a list of tool names, got {toml_type}").format(
                key=key, toml_type=toml_type(value)
            )
        )
    for item in value:
        if item != "*" and not _TOOL_RE.fullmatch(item):
            raise _Invalid(
                _("{key}: {quote} is not shell, *, a server or server__tool").format(
                    key=key, quote=_quote(item)
                )
            )
    return tuple(dict.fromkeys(value))


def _check_knowledge(key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid(f"{key} must be a list of knowledge base names, got {toml_type(value)}")
    for item in value:
        if not _NAME_RE.fullmatch(item.lower()):
            raise _Invalid(f"{key}: {_quote(item)} is not a knowledge base name")
    return tuple(dict.fromkeys(item.lower() for item in value))


def _choice_check(choices: tuple[str, ...]) -> Callable[[str, object], str]:
    def check(key: str, value: object) -> str:
        text = _check_string(key, value)
        if text not in choices:
            raise _Invalid(
                _("{key} must be one of: {choices}; got {quote}").format(
                    key=key, choices=", ".join(choices), quote=_quote(text)
                )
            )
        return text

    return check


def _enum_check(kind: type[OverflowPolicy] | type[ThinkMode]) -> Callable[[str, object], object]:
    choices = _choice_check(kind.words())

    def check(key: str, value: object) -> object:
        return kind(choices(key, value))

    return check


_CHECKS: dict[str, Callable[[str, object], object]] = {
    "description": _check_description,
    "system": _check_system,
    "model": _check_model,
    "temperature": _number_check(TEMPERATURE),
    "top_p": _number_check(TOP_P),
    "max_tokens": _positive_int_check(MAX_TOKENS),
    "stop": _check_stop,
    "greeting": _check_greeting,
    "context_window": _positive_int_check(CONTEXT_WINDOW),
    "cache": _check_bool,
    "overflow": _enum_check(OverflowPolicy),
    "provider": _choice_check(PROVIDERS),
    "tools": _check_tools,
    "think": _enum_check(ThinkMode),
    "knowledge": _check_knowledge,
    "knowledge_share": _number_check(KNOWLEDGE_SHARE),
}


# --- message helpers --------------------------------------------------------


def _quote(text: str) -> str:
    """Quote text from a file or the user so that the message stays one short line."""
    return quote(one_line(text, limit=60)) if text.isprintable() else quote(text[:60])


def _quote_path(path: Path) -> str:
    text = str(path)
    return text if text.isprintable() else repr(text)
