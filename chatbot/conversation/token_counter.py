"""Counting a request's tokens offline, calibrated by what the server reports.

A fast estimate (:func:`chatbot.tokens.estimate_tokens`) per message, and a
running calibration factor, learnt from ``usage.prompt_tokens``, that corrects it
for the model actually in use. Counts are cached on each message, so a long
conversation does not get slower turn by turn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from chatbot.conversation.attachments import (
    Attachment,
    AttachmentKind,
    image_dimensions,
    text_block,
)
from chatbot.conversation.messages import Message
from chatbot.conversation.references import reference_block
from chatbot.tokens import (
    IMAGE_TOKENS_UNKNOWN_SIZE,
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    estimate_tokens,
    image_tokens,
)

__all__ = ["TokenCounter", "attachment_tokens"]


def attachment_tokens(attachment: Attachment) -> int:
    """Estimated tokens an attachment adds to its message (uncalibrated)."""
    if attachment.kind is AttachmentKind.IMAGE:
        size = image_dimensions(attachment.data)
        return IMAGE_TOKENS_UNKNOWN_SIZE if size is None else image_tokens(*size)
    # The name line, the fences and the blank line before the question.
    return estimate_tokens(text_block(attachment)) + 2


class TokenCounter:
    """Counts request tokens, learning a correction from the server's usage."""

    #: How far calibration may move the estimate either way.
    _MIN_FACTOR = 0.5
    _MAX_FACTOR = 3.0

    def __init__(self, *, factor: float = 1.0) -> None:
        self._factor = factor

    @property
    def factor(self) -> float:
        """Current calibration: reported tokens per estimated token."""
        return self._factor

    def raw_message_tokens(self, message: Message) -> int:
        """Uncalibrated cost of one message, cached on the message itself."""
        cached = message.token_cache
        # Identity, not equality: comparing the strings would cost O(length).
        if cached is not None and cached[0] is message.content:
            return cached[1]
        count = estimate_tokens(message.content) + MESSAGE_OVERHEAD
        # Attachments never change once the message exists: counted once, with the text.
        count += sum(attachment_tokens(a) for a in message.attachments)
        if message.references is not None:
            # Whoever changes a message's references resets its token_cache.
            count += estimate_tokens(reference_block(message.references)) + 1
        for call in message.tool_calls:
            # The call's id, name and JSON arguments are sent too, with some framing.
            count += estimate_tokens(call.name) + estimate_tokens(call.arguments) + 12
        message.token_cache = (message.content, count)
        return count

    def text_tokens(self, text: str) -> int:
        """Calibrated estimate for bare text (a reply the server did not count)."""
        return math.ceil(estimate_tokens(text) * self._factor)

    def file_tokens(self, attachment: Attachment) -> int:
        """Calibrated cost of one attachment within its message."""
        return math.ceil(attachment_tokens(attachment) * self._factor)

    def message_tokens(self, message: Message) -> int:
        """Calibrated cost of one message."""
        return math.ceil(self.raw_message_tokens(message) * self._factor)

    def request_tokens(self, messages: Iterable[Message]) -> int:
        """Calibrated cost of a whole request."""
        raw = sum(self.raw_message_tokens(m) for m in messages) + REPLY_PRIMING
        return math.ceil(raw * self._factor)

    def calibrate(self, messages: Iterable[Message], *, reported_prompt_tokens: int) -> None:
        """Move the factor toward what the server counted for ``messages``."""
        raw = sum(self.raw_message_tokens(m) for m in messages) + REPLY_PRIMING
        if raw <= 0 or reported_prompt_tokens <= 0:
            return
        observed = reported_prompt_tokens / raw
        # Weight the newest observation heavily: the model rarely changes, but
        # when it does (/model) the old factor should fade within a turn or two.
        blended = 0.3 * self._factor + 0.7 * observed
        self._factor = min(self._MAX_FACTOR, max(self._MIN_FACTOR, blended))
