"""Keep model output to text: strip terminal control sequences before anything is shown.

rich passes ESC through Markdown, Text and code blocks, so a reply could otherwise clear
the screen, set the clipboard (OSC 52), plant hidden hyperlinks (OSC 8) or retitle the
window. Whole sequences are removed, not just their ESC, so no payload shows as junk.

An escape string (OSC, DCS, SOS, PM, APC) runs to BEL, ST, the next introducer or the end
of the text. One whose payload passes ``MAX_SEQUENCE`` characters without ending is not
treated as a sequence: only its introducer is removed and the rest shows as text. That
bound is what lets :class:`StreamSanitizer` hold back a split sequence in bounded memory
while giving exactly the same result as :func:`sanitize` on the whole text.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SEQUENCE", "StreamSanitizer", "sanitize"]

#: Longest payload (and parameter run) still treated as one escape sequence.
MAX_SEQUENCE = 4096

# 7-bit ESC and the 8-bit C1 forms that start a sequence: DCS, SOS, CSI, OSC, PM, APC.
_INTRODUCERS = "\x1b\x90\x98\x9b\x9d\x9e\x9f"

# Payload excludes every introducer so a scan stops at the next one: that keeps the
# whole pass linear even on hostile input.
_SEQUENCE = re.compile(
    # Escape strings: OSC (ESC ] / 0x9D), DCS (ESC P / 0x90), SOS (ESC X / 0x98),
    # PM (ESC ^ / 0x9E), APC (ESC _ / 0x9F).
    rf"(?P<string>(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])"
    rf"[^\x07\x9c{_INTRODUCERS}]{{0,{MAX_SEQUENCE}}}"
    rf"(?P<string_end>\x07|\x9c|\x1b\\|(?=[{_INTRODUCERS}])|\Z))"
    # CSI: parameters, intermediates, final byte (absent when cut short).
    rf"|(?P<csi>(?:\x1b\[|\x9b)[0-?]{{0,{MAX_SEQUENCE}}}[ -/]{{0,{MAX_SEQUENCE}}}"
    rf"(?P<csi_end>[@-~])?)"
    # Any other ESC sequence: intermediates then a final byte; also a lone ESC.
    rf"|(?P<esc>\x1b[ -/]{{0,{MAX_SEQUENCE}}}(?P<esc_end>[0-~])?)"
    # Remaining C0 controls except tab and newline (so CR too), DEL and C1.
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def sanitize(text: str) -> str:
    """Return ``text`` with every terminal control sequence and control character removed.

    Newlines and tabs stay; ``\\r\\n`` becomes ``\\n`` and a lone ``\\r`` goes.
    """
    return _SEQUENCE.sub("", text)


def _is_incomplete(match: re.Match[str]) -> bool:
    """Whether a sequence that reaches the end of the buffer could still grow."""
    if match.group("string") is not None:
        return match.group("string_end") == ""
    if match.group("csi") is not None:
        return match.group("csi_end") is None
    if match.group("esc") is not None:
        return match.group("esc_end") is None
    return False


class StreamSanitizer:
    """:func:`sanitize` for text that arrives in chunks.

    A sequence split across chunks is held back until it completes, so the
    concatenated output always equals ``sanitize`` of the whole text. What is held is
    bounded by about ``2 * MAX_SEQUENCE`` characters.
    """

    def __init__(self) -> None:
        self._held = ""

    def feed(self, chunk: str) -> str:
        """Return the safe text that can be shown now."""
        buffer = self._held + chunk
        self._held = ""
        parts: list[str] = []
        position = 0
        for match in _SEQUENCE.finditer(buffer):
            if match.end() == len(buffer) and _is_incomplete(match):
                self._held = buffer[match.start() :]
                parts.append(buffer[position : match.start()])
                return "".join(parts)
            parts.append(buffer[position : match.start()])
            position = match.end()
        parts.append(buffer[position:])
        return "".join(parts)

    def flush(self) -> str:
        """End of stream: a sequence still open is cut short and removed."""
        held, self._held = self._held, ""
        return sanitize(held)
