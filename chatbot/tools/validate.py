"""Checking a tool call's arguments before anything runs.

The model's arguments arrive as a JSON string that may be cut, malformed or not
match the tool's schema. Every problem becomes a short text that goes back to
the model as the call's (error) result, so it can correct itself; nothing here
raises. The check covers the JSON Schema keywords tools use in practice (type,
properties, required, additionalProperties, enum, const, bounds, lengths,
items, anyOf/oneOf); keywords it does not know are left to the tool itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["ArgumentError", "parse_arguments"]

_MAX_PROBLEMS = 5


class ArgumentError(ValueError):
    """The arguments cannot be used; ``str()`` is the text the model is sent."""


def parse_arguments(raw: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments object of ``raw``; ArgumentError naming what is wrong."""
    text = raw.strip()
    if not text:
        value: Any = {}  # some servers send "" for a call without arguments
    else:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ArgumentError(
                f"the arguments are not valid JSON ({exc}); send one JSON object"
            ) from None
    if not isinstance(value, dict):
        raise ArgumentError(f"the arguments must be a JSON object, not {_kind(value)}")
    problems: list[str] = []
    _check(value, schema, "arguments", problems)
    if problems:
        raise ArgumentError(
            "the arguments do not match the tool's schema: " + "; ".join(problems[:_MAX_PROBLEMS])
        )
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def _check(value: Any, schema: Any, where: str, problems: list[str]) -> None:
    if not isinstance(schema, Mapping) or len(problems) >= _MAX_PROBLEMS:
        return
    wanted = schema.get("type")
    names = [wanted] if isinstance(wanted, str) else wanted if isinstance(wanted, list) else []
    known = [name for name in names if name in _TYPES]
    if known and not any(_TYPES[name](value) for name in known):
        problems.append(f"{where} must be {' or '.join(known)}, not {_kind(value)}")
        return
    if "enum" in schema and isinstance(schema["enum"], list) and value not in schema["enum"]:
        choices = ", ".join(json.dumps(choice) for choice in schema["enum"][:10])
        problems.append(f"{where} must be one of {choices}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{where} must be {json.dumps(schema['const'])}")
    _check_alternatives(value, schema, where, problems)
    if isinstance(value, dict):
        _check_object(value, schema, where, problems)
    elif isinstance(value, list):
        _check_array(value, schema, where, problems)
    elif isinstance(value, str):
        _check_length(len(value), schema, where, problems, "characters")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_bounds(value, schema, where, problems)


def _check_alternatives(
    value: Any, schema: Mapping[str, Any], where: str, problems: list[str]
) -> None:
    for keyword in ("anyOf", "oneOf"):
        options = schema.get(keyword)
        if not isinstance(options, list) or not options:
            continue
        if not any(_fits(value, option, where) for option in options):
            problems.append(f"{where} matches none of the allowed forms")


def _fits(value: Any, schema: Any, where: str) -> bool:
    trial: list[str] = []
    _check(value, schema, where, trial)
    return not trial


def _check_object(
    value: dict[str, Any], schema: Mapping[str, Any], where: str, problems: list[str]
) -> None:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    for name in required if isinstance(required, list) else ():
        if isinstance(name, str) and name not in value:
            problems.append(f"{where} is missing the required {name!r}")
    extra = schema.get("additionalProperties")
    for name, item in value.items():
        if name in properties:
            _check(item, properties[name], f"{name!r}", problems)
        elif extra is False:
            problems.append(f"{where} has an unknown property {name!r}")
        elif isinstance(extra, Mapping):
            _check(item, extra, f"{name!r}", problems)


def _check_array(
    value: list[Any], schema: Mapping[str, Any], where: str, problems: list[str]
) -> None:
    _check_length(len(value), schema, where, problems, "items", low="minItems", high="maxItems")
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            _check(item, items, f"{where}[{index}]", problems)


def _check_length(
    size: int,
    schema: Mapping[str, Any],
    where: str,
    problems: list[str],
    unit: str,
    *,
    low: str = "minLength",
    high: str = "maxLength",
) -> None:
    least, most = schema.get(low), schema.get(high)
    if isinstance(least, int) and size < least:
        problems.append(f"{where} needs at least {least} {unit}")
    if isinstance(most, int) and size > most:
        problems.append(f"{where} allows at most {most} {unit}")


def _check_bounds(value: float, schema: Mapping[str, Any], where: str, problems: list[str]) -> None:
    if not math.isfinite(value):
        problems.append(f"{where} must be a finite number")
        return
    for keyword, words in _BOUNDS:
        bound = schema.get(keyword)
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            continue
        broken = {
            "minimum": value < bound,
            "maximum": value > bound,
            "exclusiveMinimum": value <= bound,
            "exclusiveMaximum": value >= bound,
        }[keyword]
        if broken:
            problems.append(f"{where} must be {words} {bound:g}")


_BOUNDS = (
    ("minimum", "at least"),
    ("maximum", "at most"),
    ("exclusiveMinimum", "more than"),
    ("exclusiveMaximum", "less than"),
)
