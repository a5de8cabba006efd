"""How many tokens a text or an image is, estimated offline (no vocabulary to download).

tiktoken downloads its vocabularies on first use, so it cannot be relied on here;
a fast heuristic estimates instead. The conversation's
:class:`~chatbot.conversation.token_counter.TokenCounter` calibrates it with what
the server reports.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "IMAGE_TOKENS_UNKNOWN_SIZE",
    "MESSAGE_OVERHEAD",
    "REPLY_PRIMING",
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
