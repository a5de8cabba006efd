"""Offline token counting, calibrated by what the server reports.

tiktoken downloads its vocabularies on first use, so it cannot be relied on
here; instead a fast heuristic estimates tokens per message and a running
calibration factor, learnt from ``usage.prompt_tokens``, corrects it for the
model actually in use. Counts are cached on each message, so a long
conversation does not get slower turn by turn.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from chatbot.conversation.attachments import (
    Attachment,
    AttachmentKind,
    image_dimensions,
    text_block,
)
from chatbot.conversation.messages import Message
from chatbot.conversation.references import reference_block

__all__ = [
    "IMAGE_TOKENS_UNKNOWN_SIZE",
    "TokenCounter",
    "attachment_tokens",
    "estimate_tokens",
    "image_tokens",
]

# Roughly how BPE vocabularies split text: common words are one token, long
# words a token per ~4 letters, digits in groups of ~3, CJK about one token per
# character, and each punctuation mark its own token.
_PIECES = re.compile(
    r"(?P<word>[A-Za-z]+)"
    r"|(?P<digits>[0-9]+)"
    r"|(?P<space>\s+)"
    r"|(?P<cjk>[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])"
    r"|(?P<other>[^\sA-Za-z0-9])"
)

#: Tokens the chat format adds around every message (role, separators).
MESSAGE_OVERHEAD = 4
#: Tokens that prime the assistant's reply in every request.
REPLY_PRIMING = 3


#: An image whose size cannot be read from its header: a 1024x1024 one at high detail.
IMAGE_TOKENS_UNKNOWN_SIZE = 765


def image_tokens(width: int, height: int) -> int:
    """OpenAI's published cost of an image at high detail, the most a server charges.

    The image is scaled to fit 2048x2048, then its shorter side to 768 pixels;
    it costs 85 tokens plus 170 per 512-pixel tile. Other servers count images
    differently (llama.cpp's and Ollama's vision models use a few hundred to a
    few thousand); calibration from the usage they report corrects the rest.
    """
    if width <= 0 or height <= 0:
        return IMAGE_TOKENS_UNKNOWN_SIZE
    scale = min(1.0, 2048 / max(width, height))
    scale *= min(1.0, 768 / (min(width, height) * scale))
    tiles = math.ceil(width * scale / 512) * math.ceil(height * scale / 512)
    return 85 + 170 * tiles


def attachment_tokens(attachment: Attachment) -> int:
    """Estimated tokens an attachment adds to its message (uncalibrated)."""
    if attachment.kind is AttachmentKind.IMAGE:
        size = image_dimensions(attachment.data)
        return IMAGE_TOKENS_UNKNOWN_SIZE if size is None else image_tokens(*size)
    # The name line, the fences and the blank line before the question.
    return estimate_tokens(text_block(attachment)) + 2


def estimate_tokens(text: str) -> int:
    """A quick, network-free estimate of how many tokens ``text`` is."""
    total = 0
    for match in _PIECES.finditer(text):
        kind = match.lastgroup
        length = match.end() - match.start()
        if kind == "word":
            total += 1 if length <= 6 else math.ceil(length / 4)
        elif kind == "digits":
            total += math.ceil(length / 3)
        elif kind == "space":
            # Single spaces merge into the following word; runs (indentation) do not.
            total += 0 if length == 1 else math.ceil(length / 4)
        elif kind == "cjk":
            total += 1
        else:
            # Non-Latin letters and symbols: UTF-8 multi-byte text costs more.
            total += 1 if match.group().isascii() else 2
    return total


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
