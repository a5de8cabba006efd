"""Library log records kept off the terminal: the MCP SDK's go to a private file."""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["keep_sdk_logs_off_the_terminal"]

_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


class _ToFile(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours: added once, whatever the number of hubs."""


class _Nowhere(logging.NullHandler):
    """Ours, when the log file cannot be opened: the records go nowhere."""


def keep_sdk_logs_off_the_terminal(path: Path) -> None:
    """The SDK's log records (``Session termination failed: …``) go to ``path``.

    Without a handler of its own, Python's last-resort handler prints a library's
    warnings on stderr, in the middle of the chat.
    """
    logger = logging.getLogger("mcp")
    if any(isinstance(h, _ToFile | _Nowhere) for h in logger.handlers):
        return
    handler: logging.Handler
    try:
        from chatbot.settings.paths import open_private

        stream = open(open_private(path), "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        handler = _ToFile(stream)
        handler.setFormatter(logging.Formatter(_FORMAT))
    except OSError:
        handler = _Nowhere()
    logger.addHandler(handler)
    logger.propagate = False
