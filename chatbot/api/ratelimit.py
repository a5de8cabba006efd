"""How long a server asks us to wait: every form of Retry-After and rate-limit reset.

Servers say it in one of several headers: ``retry-after-ms`` (OpenAI), ``Retry-After``
in seconds or as an HTTP date (RFC 9110), OpenAI's and Groq's
``x-ratelimit-reset-requests`` / ``x-ratelimit-reset-tokens`` as durations
(``20s``, ``1m30s``, ``6ms``), or ``x-ratelimit-reset`` as a Unix time
(OpenRouter, in milliseconds) or a number of seconds.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from chatbot.i18n import _

__all__ = ["Wait", "duration_text", "parse_duration", "requested_wait"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
#: Values of ``x-ratelimit-reset`` above these are Unix times, not delays.
_EPOCH_MS = 1e12
_EPOCH_S = 1e9


@dataclass(frozen=True, slots=True)
class Wait:
    """Seconds to wait, and whether the server asked (Retry-After) or told when it resets."""

    seconds: float
    asked: bool

    def said(self) -> str:
        """The words for the user: "the server asks to wait 1s" or "the limit resets in 20s"."""
        if self.asked:
            return _("the server asks to wait {duration}").format(
                duration=duration_text(self.seconds)
            )
        return _("the limit resets in {duration}").format(duration=duration_text(self.seconds))


def parse_duration(text: str) -> float | None:
    """``1m30s``, ``20s``, ``6ms``, ``1h2m3.5s`` or a bare number of seconds; None if not."""
    raw = text.strip().lower()
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        return value if math.isfinite(value) and value >= 0 else None
    total = 0.0
    position = 0
    for match in _DURATION.finditer(raw):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return total if position and position == len(raw) else None


def duration_text(seconds: float) -> str:
    """``6ms``, ``1.5s``, ``20s``, ``1m30s``, ``2h5m``: short, as servers write them."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 1):g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m{secs}s" if secs else f"{minutes}m"


def requested_wait(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> Wait | None:
    """The wait a response's headers ask for, in whichever form; None when none is said."""
    raw = headers.get("retry-after-ms")
    if raw:
        try:
            return Wait(max(0.0, float(raw) / 1000), asked=True)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        seconds = _seconds_or_date(raw, headers, now)
        if seconds is not None:
            return Wait(seconds, asked=True)
    resets = _reset_durations(headers)
    if resets is not None:
        return Wait(resets, asked=False)
    raw = headers.get("x-ratelimit-reset")
    if raw:
        seconds = _reset_time(raw, now)
        if seconds is not None:
            return Wait(seconds, asked=False)
    return None


def _seconds_or_date(
    raw: str, headers: Mapping[str, str], now: Callable[[], float]
) -> float | None:
    """Retry-After's delay-seconds, or its HTTP date measured against the server's own Date."""
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    when = _date(raw)
    if when is None:
        return None
    # The server's clock, when it sent one: ours may be off by minutes.
    sent = _date(headers.get("date", ""))
    return max(0.0, when - (sent if sent is not None else now()))


def _date(raw: str) -> float | None:
    try:
        return parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _reset_durations(headers: Mapping[str, str]) -> float | None:
    """OpenAI's reset durations: the exhausted limit's, else the longer of the two."""
    resets: dict[str, float] = {}
    for kind in ("requests", "tokens"):
        raw = headers.get(f"x-ratelimit-reset-{kind}")
        seconds = parse_duration(raw) if raw else None
        if seconds is not None:
            resets[kind] = seconds
    if not resets:
        return None
    exhausted = [kind for kind in resets if headers.get(f"x-ratelimit-remaining-{kind}") == "0"]
    return max(resets[kind] for kind in (exhausted or resets))


def _reset_time(raw: str, now: Callable[[], float]) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return parse_duration(raw)
    if not math.isfinite(value) or value < 0:
        return None
    if value > _EPOCH_MS:
        return max(0.0, value / 1000 - now())
    if value > _EPOCH_S:
        return max(0.0, value - now())
    return value
