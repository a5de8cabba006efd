"""A visible countdown while waiting to retry, which Ctrl-C cancels."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from chatbot.conversation.retry import RetryWait
from chatbot.i18n import _
from chatbot.render.sanitize import sanitize

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["CountdownWaiter"]


class CountdownWaiter:
    """Shows "retrying in 3.2s" ticking down on a terminal, or one line elsewhere."""

    def __init__(
        self,
        *,
        console: Console,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        tick: float = 0.1,
    ) -> None:
        self.console = console
        self._clock = clock
        self._sleep = sleep
        self._tick = tick

    def _line(self, wait: RetryWait, left: float) -> str:
        return _(
            "{reason} — retrying in {seconds:.1f}s (retry {attempt} of {attempts}; Ctrl-C cancels)"
        ).format(
            reason=sanitize(wait.reason), seconds=left, attempt=wait.attempt, attempts=wait.attempts
        )

    def __call__(self, wait: RetryWait) -> None:
        from rich.text import Text

        deadline = self._clock() + wait.seconds
        if not self.console.is_terminal:
            self.console.print(Text(self._line(wait, wait.seconds), style="yellow"), soft_wrap=True)
            self._sleep(wait.seconds)
            return
        from rich.live import Live

        with Live(console=self.console, transient=True, auto_refresh=False) as live:
            while (left := deadline - self._clock()) > 0:
                live.update(Text(self._line(wait, left), style="yellow"), refresh=True)
                self._sleep(min(self._tick, left))
        self.console.print(
            Text(
                _("retrying (retry {attempt} of {attempts})…").format(
                    attempt=wait.attempt, attempts=wait.attempts
                ),
                style="dim",
            )
        )
