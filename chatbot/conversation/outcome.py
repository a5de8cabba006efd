"""How a reply ended: the one mapping from the server's finish to a status, and the
one line the user sees about it. The REPL and one-shot share both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chatbot.cells import cut
from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.i18n import N_, _, gettext, ngettext

__all__ = ["CONTINUE_PROMPT", "FINISHES", "Outcome", "describe_outcome", "reply_status"]

#: What "continue" sends (the terminal's /continue, the web's Continue button):
#: models resume a cut reply reliably when asked plainly.
CONTINUE_PROMPT = "Continue exactly where your last reply stopped, without repeating anything."

#: What the finish values real servers send mean, lower-cased: the ONE table. A
#: natural end is "stop" for OpenAI, "eos" for Together, "eos_token" and
#: "stop_sequence" for TGI and watsonx, "end_turn" for Anthropic-style gateways,
#: "complete" for Cohere; any value not here is an abnormal end.
FINISHES: dict[str, ReplyStatus] = {
    **dict.fromkeys(
        (
            "stop",
            "eos",
            "eos_token",
            "stop_sequence",
            "end_turn",
            "end_of_turn",
            "end",
            "complete",
            "completed",
            "finished",
        ),
        ReplyStatus.COMPLETE,
    ),
    **dict.fromkeys(("length", "max_tokens", "max_length", "model_length"), ReplyStatus.LENGTH),
    **dict.fromkeys(("content_filter", "safety"), ReplyStatus.FILTERED),
    **dict.fromkeys(("tool_calls", "function_call", "tool_use"), ReplyStatus.TOOL_CALLS),
}

_RETRY = N_("/retry asks again")
_CONTINUE = N_("/continue asks for the rest, /retry asks again")


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """What to tell the user about a reply that did not simply complete."""

    level: Literal["hint", "warning", "error"]
    #: The line itself, the same in the REPL and on one-shot's stderr.
    text: str
    #: What the REPL can offer next ("/continue asks for the rest"); not for one-shot.
    next_step: str | None = None
    #: One-shot's exit status for this ending.
    exit_code: int = 0

    def in_repl(self) -> str:
        if not self.next_step:
            return self.text
        return _("{outcome}; {next_step}").format(outcome=self.text, next_step=self.next_step)


def reply_status(finish: str | None, *, has_text: bool, tools: Sequence[str] = ()) -> ReplyStatus:
    """The status of a reply the stream ended normally for: the ONE mapping.

    Complete only when the server said it ended naturally (:data:`FINISHES`; a
    missing ``[DONE]`` after it is fine). Tool calls and a content filter win
    over an empty reply, since they say why there is no text; otherwise no text
    at all is EMPTY.
    """
    meaning = FINISHES.get(finish.strip().lower()) if finish is not None else None
    if tools or meaning is ReplyStatus.TOOL_CALLS:
        return ReplyStatus.TOOL_CALLS
    if meaning is ReplyStatus.FILTERED:
        return ReplyStatus.FILTERED
    if not has_text:
        return ReplyStatus.EMPTY
    if finish is None:
        return ReplyStatus.CUT
    return meaning or ReplyStatus.ABNORMAL


def _printable(text: str, limit: int = 60) -> str:
    """Server-chosen words (a finish value, a tool name) made one short inert line."""
    shown = "".join(ch if ch.isprintable() else " " for ch in text)
    shown = " ".join(shown.split())
    return cut(shown, limit)


def _tools_line(names: Sequence[str]) -> str:
    if not names:
        return _("the model asked to call a tool, and this chat offers none")
    listed = ", ".join(_printable(name) for name in names[:5])
    if len(names) > 5:
        listed += ", …"
    return ngettext(
        "the model asked to call a tool this chat does not offer: {tools}",
        "the model asked to call tools this chat does not offer: {tools}",
        len(names),
    ).format(tools=listed)


def describe_outcome(reply: Message, *, tool_rounds: int = 0) -> Outcome | None:
    """The line for how ``reply`` ended, or None for a plain complete reply.

    A turn with tool calls can end on a tool result: cancelled with Ctrl-C, or
    not run because the turn used its ``tool_rounds``.
    """
    status = reply.status
    if reply.role is Role.TOOL:
        return _tool_outcome(reply, tool_rounds=tool_rounds)
    if status is ReplyStatus.INTERRUPTED:
        return Outcome(
            level="hint",
            text=_("reply interrupted"),
            next_step=_("what arrived is kept (/retry for a new one)"),
            exit_code=130,
        )
    if reply.thinking and not reply.content.strip():
        thought_only = _thought_but_no_answer(reply)
        if thought_only is not None:
            return thought_only
    if status is ReplyStatus.LENGTH:
        return Outcome(
            level="warning",
            text=_("the reply was cut by the max_tokens limit"),
            next_step=_("/continue asks for the rest"),
        )
    if status is ReplyStatus.FILTERED:
        return Outcome(level="warning", text=_("the server's content filter stopped the reply"))
    if status is ReplyStatus.CACHED:
        return Outcome(level="hint", text=_("(answered from the response cache)"))
    if status is ReplyStatus.REFUSED:
        return Outcome(
            level="error",
            text=_("the model refused to answer (the server marked the reply as a refusal)"),
            next_step=gettext(_RETRY),
            exit_code=1,
        )
    if status is ReplyStatus.CUT:
        return Outcome(
            level="error",
            text=_("the reply was cut: the stream ended before the server said it was finished"),
            next_step=gettext(_CONTINUE),
            exit_code=1,
        )
    if status is ReplyStatus.TOOL_CALLS:
        return Outcome(
            level="error",
            text=_tools_line(reply.tool_names),
            next_step=gettext(_RETRY),
            exit_code=1,
        )
    finish = _printable(reply.finish_reason or "")
    if status is ReplyStatus.ABNORMAL:
        return Outcome(
            level="error",
            text=_("the server ended the reply early (finish_reason '{finish}')").format(
                finish=finish or "?"
            ),
            next_step=gettext(_CONTINUE if reply.content else _RETRY),
            exit_code=1,
        )
    if status is ReplyStatus.EMPTY:
        natural = FINISHES.get(finish.lower()) is ReplyStatus.COMPLETE
        if finish and not natural:
            text = _("the reply is empty: the server sent no text (finish_reason '{finish}')")
        else:
            text = _("the reply is empty: the server sent no text")
        return Outcome(
            level="error",
            text=text.format(finish=finish),
            next_step=gettext(_RETRY),
            exit_code=1,
        )
    if reply.replaced_bytes:
        count = reply.replaced_bytes
        return Outcome(
            level="warning",
            text=ngettext(
                "{count} byte of the reply was not valid UTF-8 and shows as \ufffd",
                "{count} bytes of the reply were not valid UTF-8 and show as \ufffd",
                count,
            ).format(count=count),
        )
    return None


def _tool_outcome(result: Message, *, tool_rounds: int) -> Outcome | None:
    if result.status in (ReplyStatus.INTERRUPTED, ReplyStatus.NOT_RUN):
        return Outcome(
            level="hint",
            text=_("tool call cancelled; the turn ended"),
            next_step=_("what was shown is kept (/retry to ask again)"),
            exit_code=130,
        )
    if result.status is ReplyStatus.SKIPPED:
        return Outcome(
            level="warning",
            text=_("stopped after {count} tool rounds: the model kept asking for tools").format(
                count=tool_rounds
            ),
            next_step=_("send a message to let it go on"),
            exit_code=1,
        )
    return None


def _thought_but_no_answer(reply: Message) -> Outcome | None:
    """A reply that is all thinking: say so plainly, not just "empty".

    Like any reply that is no answer, one-shot exits 1; a filter or tool calls
    keep their own lines.
    """
    if reply.status not in (ReplyStatus.EMPTY, ReplyStatus.LENGTH, ReplyStatus.COMPLETE):
        return None
    if reply.finish_reason == "length" or reply.status is ReplyStatus.LENGTH:
        text = _("the model used its whole max_tokens budget thinking; raise --max-tokens")
    elif reply.finish_reason is None and reply.status is ReplyStatus.EMPTY:
        text = _("the stream ended while the model was still thinking, before any answer")
    else:
        text = _("the model stopped while still thinking and gave no answer")
    return Outcome(
        level="error",
        text=text,
        next_step=_("/thinking shows what it thought; {retry}").format(retry=gettext(_RETRY)),
        exit_code=1,
    )
