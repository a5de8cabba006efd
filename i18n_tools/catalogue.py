"""One language's catalogue: merged with what the code says, checked, and compiled.

``python -m i18n_tools`` runs :func:`update` for every language (new messages are
added untranslated, unused ones dropped, the ``.mo`` rewritten); the tests run
:func:`check`, which fails on a message with no translation, a translation whose
placeholders differ from the English, or a ``.mo`` that is not the ``.po`` compiled.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from i18n_tools.extract import ARGPARSE, ROOT, Found, extract_all
from i18n_tools.po import Entry, compile_mo, parse_po, write_po

__all__ = ["Catalogue", "check", "placeholders", "update"]

LOCALE_DIR = ROOT / "chatbot" / "locale"
DOMAIN = "chatbot"
#: Translated languages (English is the source).
LANGUAGES = ("ja",)

_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*\d*(?:\.\d+)?[sdirfgxXeEc%]")
_HEADERS = {
    "ja": (
        "Project-Id-Version: chatbot\n"
        "Language: ja\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "Plural-Forms: nplurals=1; plural=0;\n"
    )
}


def placeholders(text: str, *, percent: bool = False) -> list[str]:
    """The placeholders in ``text``, sorted: ``{name:spec}`` fields, or %-directives."""
    if percent:
        return sorted(_PERCENT.findall(text))
    fields: list[str] = []
    try:
        for _, name, spec, conversion in string.Formatter().parse(text):
            if name is not None:
                fields.append(
                    "{" + name + (f"!{conversion}" if conversion else "") + f":{spec}" + "}"
                )
    except ValueError:
        return ["<unbalanced braces>"]
    return sorted(fields)


@dataclass
class Catalogue:
    language: str
    header: str
    entries: list[Entry]

    @property
    def po_path(self) -> Path:
        return LOCALE_DIR / self.language / "LC_MESSAGES" / f"{DOMAIN}.po"

    @property
    def mo_path(self) -> Path:
        return self.po_path.with_suffix(".mo")

    @classmethod
    def load(cls, language: str) -> Catalogue:
        path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not path.exists():
            return cls(language, _HEADERS[language], [])
        header, entries = parse_po(path.read_text(encoding="utf-8"), label=str(path))
        return cls(language, header or _HEADERS[language], entries)

    def compiled(self) -> bytes:
        return compile_mo(self.header, self.entries)

    def save(self) -> None:
        self.po_path.parent.mkdir(parents=True, exist_ok=True)
        self.po_path.write_text(write_po(self.header, self.entries), encoding="utf-8")
        self.mo_path.write_bytes(self.compiled())


def _merged(catalogue: Catalogue, found: Sequence[Found]) -> list[Entry]:
    """The catalogue's entries for exactly the messages found, translations kept."""
    old = {entry.key: entry for entry in catalogue.entries}
    merged: dict[tuple[str | None, str], Entry] = {}
    for item in found:
        key = (item.context, item.msgid)
        entry = merged.get(key)
        if entry is None:
            previous = old.get(key)
            # A plural that became singular (or back) is a new message: translate it again.
            same_kind = previous is not None and (previous.plural is None) == (item.plural is None)
            entry = Entry(
                msgid=item.msgid,
                plural=item.plural,
                context=item.context,
                # One form: the languages we translate to have no plural inflection.
                msgstr=list(previous.msgstr) if previous is not None and same_kind else [""],
                notes=list(previous.notes) if previous is not None else [],
            )
            if item.reference == ARGPARSE:
                entry.flags = ["python-format"]
            elif "{" in (item.plural or item.msgid):
                entry.flags = ["python-brace-format"]
            merged[key] = entry
        if item.reference not in entry.references:
            entry.references.append(item.reference)
    return list(merged.values())


def update() -> list[str]:
    """Rewrite every language's ``.po`` and ``.mo`` from the code; what is untranslated."""
    found, problems = extract_all()
    if problems:
        raise SystemExit("\n".join(f"{p.where}: {p.what}" for p in problems))
    todo: list[str] = []
    for language in LANGUAGES:
        catalogue = Catalogue.load(language)
        catalogue.entries = _merged(catalogue, found)
        catalogue.save()
        todo += [f"{language}: {e.msgid!r}" for e in catalogue.entries if not e.translated]
    return todo


def check(language: str) -> list[str]:
    """Everything wrong with ``language``'s catalogue, one line each (empty: all good)."""
    found, problems = extract_all()
    errors = [f"{p.where}: {p.what}" for p in problems]
    catalogue = Catalogue.load(language)
    entries = {entry.key: entry for entry in catalogue.entries}
    for item in found:
        entry = entries.get((item.context, item.msgid))
        where = f"{item.reference}: {item.msgid!r}"
        if entry is None or not entry.translated:
            errors.append(f"{where}: no {language} translation (run: python -m i18n_tools)")
            continue
        percent = item.reference == ARGPARSE
        english = placeholders(item.plural or item.msgid, percent=percent)
        for form in entry.msgstr:
            if placeholders(form, percent=percent) != english:
                errors.append(
                    f"{where}: the {language} placeholders {placeholders(form, percent=percent)}"
                    f" differ from the English {english}"
                )
    if catalogue.mo_path.exists():
        if catalogue.mo_path.read_bytes() != catalogue.compiled():
            errors.append(f"{catalogue.mo_path} is out of date (run: python -m i18n_tools)")
    else:
        errors.append(f"{catalogue.mo_path} is missing (run: python -m i18n_tools)")
    return errors
