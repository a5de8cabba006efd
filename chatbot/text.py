"""Make text safe to send, store and show: user input, and what servers stream back."""

from __future__ import annotations

import re

__all__ = ["clean_text"]

# Lone surrogates (from a broken paste or surrogateescape-decoded bytes) cannot
# be encoded as UTF-8 JSON; NUL bytes break some servers' C string handling.
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Replace lone surrogates with U+FFFD and drop NUL; everything else is kept.

    Used on what the user sends and on what a server streams back (a JSON
    ``\\ud83d`` escape decodes to a lone surrogate that no file or terminal takes).
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATES.sub("\ufffd", text)
