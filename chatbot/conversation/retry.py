"""When and how long to wait before asking again after a rate limit or server error.

Retries only ever happen before the first token of a reply is shown: retrying
later would duplicate text on the screen, so then the user is offered /retry.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chatbot.api.ratelimit import duration_text
from chatbot.errors import ApiError
from chatbot.i18n import _

__all__ = ["RetryPolicy", "RetryWait", "Waiter", "sleeping_waiter"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryWait:
    """One pause before another attempt, for the user to watch."""

    seconds: float
    attempt: int  # 1 for the first retry
    attempts: int  # retries allowed in all
    reason: str


#: Shows and performs a wait; raising KeyboardInterrupt cancels the retry.
Waiter = Callable[[RetryWait], None]


def sleeping_waiter(wait: RetryWait) -> None:
    """Waits silently: for callers with no screen to show a countdown on."""
    time.sleep(wait.seconds)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring the server's Retry-After."""

    attempts: int = 3
    max_wait: float = 60.0
    base: float = 1.0
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, retry_number: int, *, retry_after: float | None) -> float | None:
        """Seconds to wait before retry ``retry_number`` (1-based), or None to give up."""
        if retry_number > self.attempts:
            return None
        if retry_after is not None:
            # The server knows best; if it wants longer than we will wait, stop now.
            return retry_after if retry_after <= self.max_wait else None
        ceiling = min(self.max_wait, self.base * 2.0 ** (retry_number - 1))
        # "Equal jitter": at least half the backoff, so retries from many
        # clients spread out without any of them retrying immediately.
        return ceiling / 2 + self.random() * ceiling / 2

    def giving_up(self, error: ApiError) -> ApiError:
        """The error to stop with: when the server asks for longer than ``max_wait``,
        it says so, in the same one line."""
        wait = error.retry_after
        if not error.retryable or wait is None or wait <= self.max_wait:
            return error
        said = copy.copy(error)
        said.args = (
            _("{error} — longer than --max-wait {wait}, so not waiting").format(
                error=error, wait=duration_text(self.max_wait)
            ),
        )
        return said
