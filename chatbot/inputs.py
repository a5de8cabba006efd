"""Make user text safe to send: it came from a keyboard, a paste or a pipe."""

from __future__ import annotations

import re

__all__ = ["clean_user_text"]

# Lone surrogates (from a broken paste or surrogateescape-decoded bytes) cannot
# be encoded as UTF-8 JSON; NUL bytes break some servers' C string handling.
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_user_text(text: str) -> str:
    """Replace lone surrogates with U+FFFD and drop NUL; everything else is kept."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATES.sub("\ufffd", text)
