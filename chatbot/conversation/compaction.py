"""Summarising old turns so a long conversation keeps its thread within the budget.

The summary replaces the turns it covers in requests (the originals stay in the
store and in exports). Each summary request must itself fit the budget, so a
long stretch of history is summarised in pieces and the pieces' summaries are
then combined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chatbot.api.events import ChatBackend, ChatRequest, Finished, TextDelta, UsageReport
from chatbot.api.reasoning import separate_thinking
from chatbot.conversation.attachments import AttachmentKind, message_text
from chatbot.conversation.history import Budget
from chatbot.conversation.messages import Message, ReplyStatus, Role
from chatbot.conversation.outcome import reply_status
from chatbot.conversation.token_counter import TokenCounter
from chatbot.errors import ApiError, CompactionFailed
from chatbot.i18n import _

__all__ = ["SUMMARY_LABEL", "Compactor", "summary_message"]

SUMMARY_LABEL = "Summary of the earlier conversation (older turns were condensed to save space):"

SUMMARY_INSTRUCTIONS = (
    "You condense chat transcripts into compact notes that let the conversation continue "
    "without the original. Keep every fact, name, number, date, decision, preference, code "
    "identifier and open question that either side stated, attributing them (the user said "
    "/ the assistant suggested). Drop greetings and filler. Write in the language of the "
    "conversation, as short bullet points, with no preamble."
)

#: The longest summary we ask for, in tokens.
SUMMARY_MAX_TOKENS = 512


def summary_message(text: str) -> Message:
    """The clearly labelled message that stands in for summarised turns."""
    return Message(role=Role.SYSTEM, content=f"{SUMMARY_LABEL}\n{text.strip()}", summary=True)


#: A tool result in a summary request: its head and tail, not kilobytes of output.
_TOOL_RESULT_CHARS = 600


def _line(message: Message) -> str:
    who = "User" if message.role is Role.USER else "Assistant"
    if message.summary:
        who = "Earlier summary"
    if message.role is Role.TOOL:
        text = message.content.strip()
        if len(text) > _TOOL_RESULT_CHARS:
            half = _TOOL_RESULT_CHARS // 2
            text = f"{text[:half]} […] {text[-half:]}"
        return f"Tool result ({message.tool_name or 'tool'}): {text}"
    text = message_text(message.content, message.attachments).strip()
    images = [a.name for a in message.attachments if a.kind is AttachmentKind.IMAGE]
    if images:
        text += "".join(f"\n[image attached: {name}]" for name in images)
    text += "".join(f"\n[calls {c.name} with {c.arguments[:300]}]" for c in message.tool_calls)
    return f"{who}: {text}"


class Compactor:
    """Asks the model for summaries, in pieces that each fit the budget."""

    def __init__(
        self,
        *,
        backend: ChatBackend,
        counter: TokenCounter,
        on_usage: Callable[[str, UsageReport], None] | None = None,
    ) -> None:
        self.backend = backend
        self.counter = counter
        #: Told what each summary request used (model, usage): it is paid for too.
        self._on_usage = on_usage

    def summarize(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        budget: Budget,
        previous: Message | None = None,
    ) -> str:
        """One summary text of ``previous`` (an earlier summary) plus ``messages``."""
        items = [previous, *messages] if previous is not None else list(messages)
        if not items:
            raise CompactionFailed(_("nothing to summarise"))
        reply_room = min(SUMMARY_MAX_TOKENS, max(64, budget.reserved_for_reply))
        instructions = Message(role=Role.SYSTEM, content=SUMMARY_INSTRUCTIONS)
        overhead = self.counter.request_tokens([instructions]) + 16
        piece_limit = budget.context_window - reply_room - overhead
        if piece_limit < 64:
            raise CompactionFailed(_("the model's context is too small to summarise in"))
        # An empty reply (cut before any text) says nothing worth keeping.
        lines = [
            _line(m)
            for m in items
            if m.role is not Role.ASSISTANT or m.content.strip() or m.tool_calls
        ]
        pieces = self._pieces(lines, limit=piece_limit)
        summaries = [self._ask(piece, model=model, max_tokens=reply_room) for piece in pieces]
        combined = "\n".join(summaries)
        # Combining many pieces may itself be long: condense once more if so.
        if len(summaries) > 1 and self._tokens(combined) > piece_limit // 2:
            combined = self._ask(
                self._truncate(combined, limit=piece_limit), model=model, max_tokens=reply_room
            )
        return combined

    def _tokens(self, text: str) -> int:
        return self.counter.message_tokens(Message(role=Role.USER, content=text))

    def _truncate(self, text: str, *, limit: int) -> str:
        """Keep the head and tail of a text too long for one piece."""
        tokens = self._tokens(text)
        if tokens <= limit:
            return text
        keep = max(200, int(len(text) * (limit / tokens) * 0.9))
        half = keep // 2
        return f"{text[:half]}\n[… middle omitted …]\n{text[-half:]}"

    def _pieces(self, lines: list[str], *, limit: int) -> list[str]:
        pieces: list[str] = []
        current: list[str] = []
        used = 0
        for line in lines:
            line = self._truncate(line, limit=limit)
            cost = self._tokens(line)
            if current and used + cost > limit:
                pieces.append("\n\n".join(current))
                current, used = [], 0
            current.append(line)
            used += cost
        if current:
            pieces.append("\n\n".join(current))
        return pieces

    def _ask(self, transcript: str, *, model: str, max_tokens: int) -> str:
        request = ChatRequest(
            model=model,
            messages=[
                {"role": "system", "content": SUMMARY_INSTRUCTIONS},
                {"role": "user", "content": f"Transcript to condense:\n\n{transcript}"},
            ],
            temperature=0.2,
            max_tokens=max_tokens,
        )
        parts: list[str] = []
        finished = Finished(None)
        try:
            # A reasoning model's thinking is not part of the summary.
            for event in separate_thinking(self.backend.stream(request)):
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                elif isinstance(event, UsageReport) and self._on_usage is not None:
                    self._on_usage(model, event)
                elif isinstance(event, Finished):
                    finished = event
        except ApiError as exc:
            raise CompactionFailed(str(exc)) from None
        text = "".join(parts)
        status = reply_status(finished.reason, has_text=bool(text.strip()), tools=finished.tools)
        if status is ReplyStatus.EMPTY:
            raise CompactionFailed(_("the model returned an empty summary"))
        # A summary cut by max_tokens still helps; one cut by a failure is not trusted.
        if status not in (ReplyStatus.COMPLETE, ReplyStatus.LENGTH):
            raise CompactionFailed(
                _("the summary did not finish ({status})").format(status=status.value)
            )
        return text.strip()
