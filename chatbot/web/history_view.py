"""A stored conversation as the page shows it: text for the user, safe HTML for replies.

A user's words are sent as text, for the page to put in as text; a reply's Markdown
is rendered here, whole, by the same renderer streamed replies use block by block.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.conversation.attachments import describe_attachments
from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.conversation.outcome import describe_outcome
from chatbot.conversation.references import source_lines
from chatbot.i18n import _
from chatbot.render.sanitize import sanitize
from chatbot.tools.display import brief_arguments
from chatbot.web.reply_html import markdown_html

__all__ = ["message_views"]


def message_views(messages: Sequence[Message]) -> list[dict[str, object]]:
    """One entry per message the page shows (summaries and the system prompt are not)."""
    views: list[dict[str, object]] = []
    for message in messages:
        if message.summary or message.role is Role.SYSTEM:
            continue
        if message.role is Role.USER:
            views.append(
                {
                    "role": "user",
                    "text": sanitize(message.content),
                    "files": sanitize(describe_attachments(message.attachments)),
                }
            )
        elif message.role is Role.TOOL:
            views.append(
                {
                    "role": "tool",
                    "name": sanitize(message.tool_name or "tool"),
                    "outcome": "declined"
                    if message.status is ReplyStatus.DECLINED
                    else f"{len(message.content.encode('utf-8')):,} B",
                }
            )
        else:
            outcome = describe_outcome(message)
            views.append(
                {
                    "role": "assistant",
                    "html": markdown_html(sanitize(message.content)),
                    "thinking": sanitize(message.thinking),
                    "calls": [
                        f"{sanitize(call.name)} {brief_arguments(call.arguments)}"
                        for call in message.tool_calls
                    ],
                    "outcome": sanitize(outcome.text) if outcome is not None else None,
                    "level": outcome.level if outcome is not None else None,
                    "sources": [
                        sanitize(_("source {line}").format(line=line))
                        for line in source_lines(message.sources)
                    ],
                }
            )
    return views
