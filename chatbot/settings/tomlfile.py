"""Reading small TOML files a user edits (personas, config) with one-line errors.

Every failure, however odd the file, becomes the caller's error type with a
message that starts with the file's label, so it can be shown as is.
"""

from __future__ import annotations

import datetime
import re
import stat
import tomllib
from pathlib import Path

from chatbot.cells import cut
from chatbot.errors import ConfigError
from chatbot.i18n import _

__all__ = [
    "MAX_FILE_BYTES",
    "decode_utf8",
    "one_line",
    "os_reason",
    "parse_toml",
    "read_limited",
    "toml_type",
]

#: Hand-edited files are small; anything larger is a mistake (or an attack).
MAX_FILE_BYTES = 1024 * 1024

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def one_line(text: str, *, limit: int = 200) -> str:
    """``text`` with its whitespace folded, cut to ``limit`` terminal cells."""
    return cut(" ".join(text.split()), limit)


def os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return one_line(str(exc)) or type(exc).__name__


def read_limited(
    path: Path,
    *,
    label: str,
    what: str,
    error: type[ConfigError],
    missing_ok: bool,
    max_bytes: int = MAX_FILE_BYTES,
) -> bytes | None:
    """The bytes of a regular file of at most ``max_bytes``; None if absent and allowed."""
    try:
        info = path.stat()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise error(_("{label}: {what} not found").format(label=label, what=what)) from None
    except (OSError, ValueError) as exc:
        raise error(
            _("{label}: cannot read {what}: {os_reason}").format(
                label=label, what=what, os_reason=os_reason(exc)
            )
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise error(_("{label}: is a directory, not a {what}").format(label=label, what=what))
    # FIFOs and devices could block or never end; these are plain files.
    if not stat.S_ISREG(info.st_mode):
        raise error(_("{label}: not a regular file").format(label=label))
    if info.st_size > max_bytes:
        raise error(_too_large(label, what, info.st_size, max_bytes))
    try:
        with path.open("rb") as handle:
            # Read one byte past the limit: the file may have grown since stat().
            data = handle.read(max_bytes + 1)
    except (OSError, ValueError) as exc:
        raise error(
            _("{label}: cannot read {what}: {os_reason}").format(
                label=label, what=what, os_reason=os_reason(exc)
            )
        ) from None
    if len(data) > max_bytes:
        raise error(_too_large(label, what, len(data), max_bytes))
    return data


def _too_large(label: str, what: str, size: int, limit: int) -> str:
    return _("{label}: {what} too large ({size:,} bytes; the limit is {limit} MB)").format(
        label=label, what=what, size=size, limit=limit // (1024 * 1024)
    )


def decode_utf8(data: bytes, *, label: str, error: type[ConfigError]) -> str:
    try:
        # utf-8-sig: editors on Windows like to start files with a BOM.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        raise error(
            _("{label}: not UTF-8 text (byte 0x{byte:02x} at offset {start})").format(
                label=label, byte=byte, start=exc.start
            )
        ) from None


def parse_toml(text: str, *, label: str, error: type[ConfigError]) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(_syntax_message(exc, label)) from None
    except ValueError as exc:
        # Integers over Python's 4300-digit conversion limit land here.
        raise error(
            _("{label}: invalid TOML: {one_line}").format(
                label=label, one_line=one_line(str(exc), limit=80)
            )
        ) from None
    except RecursionError:
        raise error(
            _("{label}: invalid TOML: arrays or tables nested too deeply").format(label=label)
        ) from None


def _syntax_message(exc: tomllib.TOMLDecodeError, label: str) -> str:
    # Python 3.14 exposes lineno/colno/msg; older versions only put them in the text.
    message = str(getattr(exc, "msg", None) or exc)
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    found = _TOML_POSITION.search(message)
    if found:
        message = message[: found.start()]
        if line is None:
            line, column = int(found.group(1)), int(found.group(2))
    if line is None:
        return _("{label}: invalid TOML: {problem}").format(label=label, problem=one_line(message))
    return _("{label}: invalid TOML at line {line}, column {column}: {problem}").format(
        label=label, line=line, column=column, problem=one_line(message)
    )


def toml_type(value: object) -> str:
    """The TOML name of a parsed value's type, as the user wrote it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, datetime.datetime):
        return "datetime"
    for kind, name in (
        (str, "string"),
        (int, "integer"),
        (float, "float"),
        (list, "array"),
        (dict, "table"),
        (datetime.date, "date"),
        (datetime.time, "time"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__
