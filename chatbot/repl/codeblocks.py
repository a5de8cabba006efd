"""Find the fenced code blocks in a Markdown reply, for /copy N."""

from __future__ import annotations

import re

__all__ = ["code_blocks"]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$")


def code_blocks(markdown: str) -> list[str]:
    """The contents of each fenced code block, in order; an unclosed one counts."""
    blocks: list[str] = []
    current: list[str] | None = None
    closing = ""
    for line in markdown.splitlines():
        match = _FENCE.match(line)
        if current is None:
            if match and not (match["fence"][0] == "`" and "`" in match["info"]):
                current, closing = [], match["fence"]
        elif match and match["fence"][0] == closing[0] and len(match["fence"]) >= len(closing):
            if not match["info"].strip():
                blocks.append("\n".join(current))
                current = None
                continue
            current.append(line)
        else:
            current.append(line)
    if current is not None:
        blocks.append("\n".join(current))
    return blocks
