"""Reading and writing gettext ``.po`` files, and compiling them to ``.mo``.

Only what our catalogues use: comments, ``msgctxt``, ``msgid``, ``msgid_plural``,
``msgstr`` and ``msgstr[N]``, strings split over lines. The ``.mo`` writer follows
the GNU format (what :mod:`gettext` reads) with keys sorted and no hash table, so
the same ``.po`` always compiles to the same bytes.
"""

from __future__ import annotations

import ast
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Entry", "compile_mo", "parse_po", "write_po"]


@dataclass(kw_only=True)
class Entry:
    """One message: its English text (and plural), where it comes from, its translation."""

    msgid: str
    plural: str | None = None
    context: str | None = None
    #: The translation; one form per plural form for plural entries.
    msgstr: list[str] = field(default_factory=lambda: [""])
    #: Where the message is used (``#:`` lines), and notes for translators (``#.``).
    references: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.context, self.msgid)

    @property
    def translated(self) -> bool:
        return all(self.msgstr) and bool(self.msgstr)


def _unquote(token: str, *, where: str) -> str:
    token = token.strip()
    if not (token.startswith('"') and token.endswith('"')):
        raise ValueError(f"{where}: expected a quoted string, got {token[:40]!r}")
    value = ast.literal_eval(token)
    if not isinstance(value, str):
        raise ValueError(f"{where}: not a string")
    return value


def parse_po(text: str, *, label: str = "<po>") -> tuple[str, list[Entry]]:
    """The header's text and the entries of a ``.po`` file, in file order."""
    entries: list[Entry] = []
    header = ""
    current: Entry | None = None
    pending_refs: list[str] = []
    pending_notes: list[str] = []
    pending_flags: list[str] = []
    # The field a continuation line ("...") appends to.
    target: tuple[str, int] | None = None
    context_open = False

    def finish() -> None:
        nonlocal current, header
        if current is None:
            return
        if current.msgid == "" and current.context is None:
            header = current.msgstr[0]
        else:
            entries.append(current)
        current = None

    for number, raw in enumerate(text.splitlines(), 1):
        where = f"{label}:{number}"
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#~"):
            continue  # obsolete entries are dropped
        if line.startswith("#"):
            finish()
            target = None
            if line.startswith("#:"):
                pending_refs.extend(line[2:].split())
            elif line.startswith("#."):
                pending_notes.append(line[2:].strip())
            elif line.startswith("#,"):
                pending_flags.extend(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith('"'):
            if current is None or target is None:
                raise ValueError(f"{where}: a string continues nothing")
            name, index = target
            value = _unquote(line, where=where)
            if name == "msgid":
                current.msgid += value
            elif name == "msgid_plural":
                current.plural = (current.plural or "") + value
            elif name == "msgctxt":
                current.context = (current.context or "") + value
            else:
                current.msgstr[index] += value
            continue
        keyword, _, rest = line.partition(" ")
        # msgctxt opens an entry; so does msgid, unless it follows that entry's msgctxt.
        if keyword == "msgctxt" or (keyword == "msgid" and not context_open):
            finish()
            current = Entry(
                msgid="", references=pending_refs, notes=pending_notes, flags=pending_flags
            )
            pending_refs, pending_notes, pending_flags = [], [], []
        context_open = keyword == "msgctxt"
        if current is None:
            raise ValueError(f"{where}: {keyword} before msgid")
        value = _unquote(rest, where=where)
        if keyword == "msgctxt":
            current.context = value
            target = ("msgctxt", 0)
        elif keyword == "msgid":
            current.msgid = value
            target = ("msgid", 0)
        elif keyword == "msgid_plural":
            current.plural = value
            target = ("msgid_plural", 0)
        elif keyword == "msgstr":
            current.msgstr = [value]
            target = ("msgstr", 0)
        elif keyword.startswith("msgstr[") and keyword.endswith("]"):
            index = int(keyword[7:-1])
            if index == 0:
                current.msgstr = []
            while len(current.msgstr) <= index:
                current.msgstr.append("")
            current.msgstr[index] = value
            target = ("msgstr", index)
        else:
            raise ValueError(f"{where}: unknown keyword {keyword!r}")
    finish()
    return header, entries


def _quoted(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\r", "\\r")
    )
    return '"' + escaped.replace("\n", "\\n") + '"'


def _field(keyword: str, value: str) -> list[str]:
    """A keyword and its string, split after each newline as gettext's tools do."""
    if "\n" not in value.rstrip("\n") and len(value) < 70:
        return [f"{keyword} {_quoted(value)}"]
    parts = value.splitlines(keepends=True)
    return [f'{keyword} ""', *(_quoted(part) for part in parts)]


def write_po(header: str, entries: Iterable[Entry]) -> str:
    out = ["\n".join(['msgid ""', *_field("msgstr", header)])]
    for entry in entries:
        block: list[str] = []
        block += [f"#. {note}" for note in entry.notes]
        if entry.references:
            block.append("#: " + " ".join(entry.references))
        if entry.flags:
            block.append("#, " + ", ".join(entry.flags))
        if entry.context is not None:
            block += _field("msgctxt", entry.context)
        block += _field("msgid", entry.msgid)
        if entry.plural is not None:
            block += _field("msgid_plural", entry.plural)
            for index, form in enumerate(entry.msgstr):
                block += _field(f"msgstr[{index}]", form)
        else:
            block += _field("msgstr", entry.msgstr[0])
        out.append("\n".join(block))
    return "\n\n".join(out) + "\n"


def compile_mo(header: str, entries: Sequence[Entry]) -> bytes:
    """The ``.mo`` bytes for the translated entries (untranslated ones fall back to English)."""
    pairs: dict[bytes, bytes] = {b"": header.encode("utf-8")}
    for entry in entries:
        if not entry.translated:
            continue
        key = entry.msgid
        if entry.plural is not None:
            key += "\0" + entry.plural
        if entry.context is not None:
            key = entry.context + "\x04" + key
        pairs[key.encode("utf-8")] = "\0".join(entry.msgstr).encode("utf-8")
    keys = sorted(pairs)
    ids = b""
    strs = b""
    offsets: list[tuple[int, int, int, int]] = []
    for encoded in keys:
        value = pairs[encoded]
        offsets.append((len(ids), len(encoded), len(strs), len(value)))
        ids += encoded + b"\0"
        strs += value + b"\0"
    count = len(keys)
    # Header (7 words), then the key table and the value table (2 words per entry).
    key_table_start = 7 * 4
    value_table_start = key_table_start + count * 8
    ids_start = value_table_start + count * 8
    strs_start = ids_start + len(ids)
    key_table: list[int] = []
    value_table: list[int] = []
    for id_offset, id_length, str_offset, str_length in offsets:
        key_table += [id_length, ids_start + id_offset]
        value_table += [str_length, strs_start + str_offset]
    head = struct.pack(
        "<7I", 0x950412DE, 0, count, key_table_start, value_table_start, 0, ids_start
    )
    return (
        head
        + struct.pack(f"<{len(key_table)}I", *key_table)
        + struct.pack(f"<{len(value_table)}I", *value_table)
        + ids
        + strs
    )
