"""The user's ``config.toml``: prices and context windows for models we do not know.

Both tables are keyed by a model-name prefix (longest match wins), the same way
as the built-in tables they extend::

    [prices."gpt-4o-mini"]        # US dollars per million tokens
    input = 0.15
    output = 0.60

    [context_windows]
    "qwen2.5-coder" = 32768

A missing file is fine; anything else wrong is one line naming the file.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chatbot.errors import ConfigError
from chatbot.models import Price, model_key

__all__ = ["UserConfig", "load_user_config"]

_SECTIONS = ("prices", "context_windows")
_PRICE_KEYS = ("input", "output")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


@dataclass(frozen=True, kw_only=True, slots=True)
class UserConfig:
    """What ``config.toml`` adds to the built-in model tables."""

    prices: Mapping[str, Price] = field(default_factory=dict)
    context_windows: Mapping[str, int] = field(default_factory=dict)


def load_user_config(path: Path) -> UserConfig:
    """Read and validate ``path``; an absent file is an empty configuration."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return UserConfig()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc.__class__.__name__}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte offset {exc.start})") from None
    document = _parse(text, path=path)
    for key in document:
        if key not in _SECTIONS:
            raise ConfigError(f"{path}: unknown key {key!r} (expected {', '.join(_SECTIONS)})")
    return UserConfig(
        prices=_prices(document.get("prices", {}), path=path),
        context_windows=_windows(document.get("context_windows", {}), path=path),
    )


def _parse(text: str, *, path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_syntax_message(exc, path=path)) from None
    except (ValueError, RecursionError) as exc:
        # Huge integers and deep nesting fail outside the decoder's own error type.
        raise ConfigError(f"{path}: invalid TOML ({exc.__class__.__name__})") from None


def _syntax_message(exc: tomllib.TOMLDecodeError, *, path: Path) -> str:
    # Before Python 3.14 the position is only in the message text.
    message = str(getattr(exc, "msg", None) or exc)
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    found = _TOML_POSITION.search(message)
    if found:
        message = message[: found.start()]
        if line is None:
            line, column = int(found.group(1)), int(found.group(2))
    message = " ".join(message.split())
    if line is None:
        return f"{path}: invalid TOML: {message}"
    return f"{path}: invalid TOML at line {line}, column {column}: {message}"


def _table(value: object, *, what: str, path: Path) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {what} must be a table, got {_kind(value)}")
    return value


def _model(name: str, *, section: str, path: Path) -> str:
    key = model_key(name)
    if not key:
        raise ConfigError(f"{path}: [{section}] has an empty model name {name!r}")
    return key


def _prices(value: object, *, path: Path) -> dict[str, Price]:
    prices: dict[str, Price] = {}
    for name, entry in _table(value, what="'prices'", path=path).items():
        where = f"prices for {name!r}"
        table = _table(entry, what=where, path=path)
        for key in table:
            if key not in _PRICE_KEYS:
                raise ConfigError(f"{path}: {where}: unknown key {key!r} (expected input, output)")
        amounts: list[float] = []
        for key in _PRICE_KEYS:
            if key not in table:
                raise ConfigError(f"{path}: {where}: missing {key!r} (US$ per million tokens)")
            amount = table[key]
            if (
                isinstance(amount, bool)
                or not isinstance(amount, int | float)
                or not math.isfinite(amount)
                or amount < 0
            ):
                raise ConfigError(
                    f"{path}: {where}: {key!r} must be a number of US$ per million tokens, "
                    f"0 or more, got {_shown(amount)}"
                )
            amounts.append(float(amount))
        prices[_model(name, section="prices", path=path)] = Price(amounts[0], amounts[1])
    return prices


def _windows(value: object, *, path: Path) -> dict[str, int]:
    windows: dict[str, int] = {}
    for name, size in _table(value, what="'context_windows'", path=path).items():
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ConfigError(
                f"{path}: context window for {name!r} must be a positive whole number of "
                f"tokens, got {_shown(size)}"
            )
        windows[_model(name, section="context_windows", path=path)] = size
    return windows


def _shown(value: object) -> str:
    """A value for an error line: short, and never more than one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 40 else text[:39] + "…"
    if isinstance(value, str):
        text = repr(value)  # repr escapes newlines
        return text if len(text) <= 40 else text[:39] + "…"
    return _kind(value)


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    names = {str: "a string", int: "a number", float: "a number", bool: "true/false"}
    return names.get(type(value), "a date or time")
