from __future__ import annotations

import io

import pytest
from rich.console import Console

from chatbot.conversation.retry import RetryWait
from chatbot.repl.countdown import CountdownWaiter

WAIT = RetryWait(seconds=1.0, attempt=1, attempts=3, reason="rate limited by http://x")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_terminal_countdown_ticks_down_and_says_it_retries() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    clock = FakeClock()
    CountdownWaiter(console=console, clock=clock, sleep=clock.sleep, tick=0.25)(WAIT)
    assert sum(clock.slept) == pytest.approx(1.0)
    text = out.getvalue()
    assert "retrying in 1.0s" in text and "retrying in 0.2s" in text
    assert "Ctrl-C cancels" in text
    assert "retry 1 of 3" in text


def test_pipe_gets_one_line_and_the_full_wait() -> None:
    out = io.StringIO()
    clock = FakeClock()
    waiter = CountdownWaiter(console=Console(file=out, width=200), clock=clock, sleep=clock.sleep)
    waiter(WAIT)
    assert clock.slept == [1.0]
    assert out.getvalue().count("\n") == 1


def test_ctrl_c_stops_the_wait() -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    console = Console(file=io.StringIO(), force_terminal=True)
    with pytest.raises(KeyboardInterrupt):
        CountdownWaiter(console=console, sleep=interrupted)(WAIT)
