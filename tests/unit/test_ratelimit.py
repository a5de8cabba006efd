"""Every form in which a server says how long to wait (issue 23)."""

from __future__ import annotations

import email.utils

import pytest

from chatbot.api.ratelimit import Wait, duration_text, parse_duration, requested_wait

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20s", 20.0), ("1m30s", 90.0), ("6ms", 0.006), ("1h2m3.5s", 3723.5), ("2.5", 2.5)],
)
def test_durations_as_openai_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "s20", "-3", "nan", "20s junk"])
def test_what_is_not_a_duration(text: str) -> None:
    assert parse_duration(text) is None


def test_each_header_form() -> None:
    date = email.utils.formatdate(NOW, usegmt=True)
    later = email.utils.formatdate(NOW + 42, usegmt=True)
    now = lambda: NOW + 3600  # noqa: E731 - our clock is an hour off: the server's Date wins
    assert requested_wait({"retry-after-ms": "1500"}) == Wait(1.5, asked=True)
    assert requested_wait({"retry-after": "7"}) == Wait(7.0, asked=True)
    assert requested_wait({"retry-after": later, "date": date}, now=now) == Wait(42.0, asked=True)
    assert requested_wait({"retry-after": later}, now=lambda: NOW) == Wait(42.0, asked=True)
    limits = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m30s",
        "x-ratelimit-reset-tokens": "6ms",
    }
    assert requested_wait(limits) == Wait(90.0, asked=False)
    both = {"x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "20s"}
    assert requested_wait(both) == Wait(20.0, asked=False)
    assert requested_wait({"x-ratelimit-reset": str(int((NOW + 9) * 1000))}, now=lambda: NOW) == (
        Wait(9.0, asked=False)
    )
    assert requested_wait({"x-ratelimit-reset": "12"}) == Wait(12.0, asked=False)
    assert requested_wait({"retry-after": "whenever"}) is None
    assert requested_wait({}) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.006, "6ms"),
        (1.0, "1s"),
        (1.5, "1.5s"),
        (20, "20s"),
        (90, "1m30s"),
        (600, "10m"),
        (7500, "2h5m"),
    ],
)
def test_waits_are_said_the_way_servers_write_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
