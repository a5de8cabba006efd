"""Every range and choice a setting may take, in one table.

The command line, the environment, ``config.toml`` and personas all check
against these, so a limit changes in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from chatbot.i18n import N_, _, gettext, or_list

__all__ = [
    "CONTEXT_WINDOW",
    "DEFAULT_THINK",
    "KNOWLEDGE_SHARE",
    "MAX_TOKENS",
    "MAX_WAIT",
    "OVERFLOW_POLICIES",
    "PROVIDERS",
    "RETRIES",
    "TEMPERATURE",
    "THINK_MODES",
    "TIMEOUT",
    "TOOL_ROUNDS",
    "TOOL_TIMEOUT",
    "TOP_P",
    "WEB_TURNS",
    "WEB_TURNS_PER_USER",
    "OverflowPolicy",
    "Range",
    "ThinkMode",
    "parse_share",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Range:
    """A numeric setting's bounds; ``above`` excludes ``low`` itself."""

    low: float
    high: float | None = None
    above: bool = False
    integer: bool = False
    #: How the allowed values read in an error: "a number from 0 to 2".
    hint: str

    def contains(self, value: float) -> bool:
        """True for a finite value inside the bounds (never for NaN)."""
        if not math.isfinite(value):
            return False
        if value < self.low or (self.above and value == self.low):
            return False
        return self.high is None or value <= self.high

    def problem(self, shown: str) -> str:
        """ "must be a number from 0 to 2, got 3", in the user's language."""
        return _("must be {hint}, got {value}").format(hint=gettext(self.hint), value=shown)

    def parse(self, raw: str) -> float:
        """The value of ``raw``; ValueError naming the allowed values otherwise."""
        text = raw.strip()
        try:
            value: float = int(text) if self.integer else float(text)
        except ValueError:
            raise ValueError(self.problem(repr(raw))) from None
        if not self.contains(value):
            raise ValueError(self.problem(raw))
        return value


TEMPERATURE = Range(low=0.0, high=2.0, hint=N_("a number from 0 to 2"))
TOP_P = Range(low=0.0, high=1.0, hint=N_("a number from 0 to 1"))
MAX_TOKENS = Range(low=1, high=1_000_000_000, integer=True, hint=N_("a positive whole number"))
CONTEXT_WINDOW = MAX_TOKENS
RETRIES = Range(low=0, high=10, integer=True, hint=N_("a whole number from 0 to 10"))
TIMEOUT = Range(low=0.0, above=True, hint=N_("a positive number of seconds"))
MAX_WAIT = TIMEOUT
#: Tool rounds (model asks, tools run) allowed in one turn.
TOOL_ROUNDS = Range(low=1, high=100, integer=True, hint=N_("a whole number from 1 to 100"))
#: Seconds one tool call may run.
TOOL_TIMEOUT = Range(low=0.0, high=3600.0, above=True, hint=N_("a number of seconds up to 3600"))


class _Choice(StrEnum):
    """A setting with a fixed set of words; :meth:`parse` is its one check."""

    @classmethod
    def words(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def parse(cls, raw: str) -> Self:
        """The member ``raw`` names (any case, spaces around); ValueError naming the choices."""
        value = cls._normalise(raw.strip().lower())
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                _("must be {choices}, got {value}").format(
                    choices=or_list(cls.words()), value=repr(raw)
                )
            ) from None

    @classmethod
    def _normalise(cls, value: str) -> str:
        return value


class OverflowPolicy(_Choice):
    """What to do with turns that no longer fit the context window."""

    DROP = "drop"
    SUMMARIZE = "summarize"

    @classmethod
    def _normalise(cls, value: str) -> str:
        return value.replace("summarise", "summarize")


class ThinkMode(_Choice):
    """How a reasoning model's thinking is shown (``--think``, ``/think``, a persona's
    ``think``): live then folded to one line (the default), kept in full, or hidden."""

    SHOW = "show"
    FOLD = "fold"
    HIDE = "hide"


OVERFLOW_POLICIES = OverflowPolicy.words()
#: Where a persona's model runs, when not behind the configured server.
PROVIDERS = ("local",)
THINK_MODES = ThinkMode.words()
DEFAULT_THINK = ThinkMode.FOLD

#: The share of the prompt budget a knowledge base's passages may take.
KNOWLEDGE_SHARE = Range(low=0.05, high=0.9, hint=N_("a share from 0.05 to 0.9 (or 5% to 90%)"))


def parse_share(raw: str) -> float:
    """``0.3`` or ``30%`` as a share of the budget; ValueError naming the range otherwise."""
    text = raw.strip()
    if text.endswith("%"):
        try:
            return KNOWLEDGE_SHARE.parse(str(float(text[:-1].strip()) / 100))
        except ValueError:
            raise ValueError(KNOWLEDGE_SHARE.problem(repr(raw))) from None
    return KNOWLEDGE_SHARE.parse(text)


#: Replies ``chatbot serve`` streams at once, in all and per user (CHATBOT_WEB_MAX_TURNS,
#: CHATBOT_WEB_MAX_TURNS_PER_USER). One process streams on one core (the GIL), and a
#: turn costs about 8 ms of CPU to start. 48 replies asked for at the same instant, at 50
#: tokens a second each, showed their first text within 0.43-0.62 s (p95; 2 cores, the
#: model's fake on the other; once 1.3 s in six runs); 64 within 1.2-2.3 s; 200 with no
#: limit within 7-12 s, each taking three times its length (``python -m bench --only
#: web``). Past the limit a new turn is told so at once, which serves more people than
#: slowing all of them.
WEB_TURNS = 48
WEB_TURNS_PER_USER = 4
