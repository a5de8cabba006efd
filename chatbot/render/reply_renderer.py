"""What the conversation draws a reply through: the one protocol every renderer meets."""

from __future__ import annotations

from typing import Protocol

__all__ = ["ReplyRenderer"]


class ReplyRenderer(Protocol):
    """Shows one reply as it streams in: the model's thinking first, then the answer."""

    def think(self, text: str) -> None:
        """Take the next piece of thinking; a renderer that shows none drops it.

        (:class:`~chatbot.render.thinking_region.ThinkingReplyRenderer` shows it.)
        """

    def feed(self, text: str) -> None:
        """Take the next chunk of the reply."""

    def finish(self) -> None:
        """Leave the whole reply on screen; safe to call twice, and after Ctrl-C."""
