"""Running one turn for the page: send, regenerate, continue or edit, on a thread.

The verbs are the session's own (``send``, ``retry``, ``undo``); this module only
picks one, runs it with the turn's renderer and Stop switch, and tells the page
how it ended in the engine's own words (:func:`~chatbot.conversation.outcome.describe_outcome`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from chatbot.api.cancel import Cancellation
from chatbot.conversation.messages import Message, Role
from chatbot.conversation.outcome import CONTINUE_PROMPT, describe_outcome
from chatbot.conversation.references import knowledge_lines
from chatbot.conversation.session import TurnResult
from chatbot.errors import ApiError, ChatbotError, ImagesRejected, MessageTooLarge
from chatbot.i18n import _
from chatbot.render import ReplyRenderer
from chatbot.render.sanitize import sanitize
from chatbot.web.bridge import run_on_thread
from chatbot.web.live_chat import LiveChat
from chatbot.web.turn import WebTurn

__all__ = ["Action", "continue_reply", "edit_last", "regenerate", "send", "start_turn"]

#: One turn's work: the session verb with the turn's renderer and Stop switch.
Action = Callable[[ReplyRenderer, Cancellation], TurnResult]


def send(chat: LiveChat, text: str, attachment_ids: Sequence[str]) -> Action:
    """Ask ``text`` with the files waiting under ``attachment_ids``.

    The files stop waiting once they went with the question; a message refused as
    too large leaves them attached, as the terminal's ``/file`` does.
    """
    files = tuple(chat.pending[key].attachment for key in attachment_ids)

    def run(renderer: ReplyRenderer, cancel: Cancellation) -> TurnResult:
        try:
            return chat.session.send(text, renderer=renderer, attachments=files, cancel=cancel)
        finally:
            chat.settle(attachment_ids, files)

    return run


def regenerate(chat: LiveChat) -> Action:
    return lambda renderer, cancel: chat.session.retry(renderer=renderer, cancel=cancel)


def continue_reply(chat: LiveChat) -> Action:
    if chat.session.conversation.last_reply() is None:
        raise ChatbotError(_("there is no reply to continue yet"))
    # The rest of the same answer: the passages it was given stay, no new search.
    return lambda renderer, cancel: chat.session.send(
        CONTINUE_PROMPT, renderer=renderer, cancel=cancel, look_up=False
    )


def edit_last(chat: LiveChat, text: str) -> Action:
    """Replace the newest question with ``text`` (its files kept) and answer it afresh.

    The new text is fitted first: one that is too long leaves the old exchange as it was.
    """
    session = chat.session
    conversation = session.conversation
    index = conversation.last_user_index()
    if index is None or index < conversation.summarised_upto:
        raise ChatbotError(_("there is no message of yours to edit yet"))
    old = conversation.messages[index]
    edited = Message(role=Role.USER, content=text, attachments=old.attachments)
    session.fit([*conversation.messages[conversation.summarised_upto : index], edited])

    def run(renderer: ReplyRenderer, cancel: Cancellation) -> TurnResult:
        session.undo()
        return session.send(text, renderer=renderer, attachments=old.attachments, cancel=cancel)

    return run


def start_turn(
    chat: LiveChat,
    turn: WebTurn,
    action: Action,
    *,
    redact: Callable[[str], str],
    on_end: Callable[[], None],
) -> None:
    """Run ``action`` on a thread of its own; ``on_end`` runs when it is over."""

    def work() -> None:
        try:
            _run(chat, turn, action, redact=redact)
        finally:
            chat.end(turn)
            on_end()

    run_on_thread(work, name=f"turn-{turn.id}")


def _run(chat: LiveChat, turn: WebTurn, action: Action, *, redact: Callable[[str], str]) -> None:
    renderer = chat.new_renderer()
    status = "error"

    def error(text: str, **extra: object) -> None:
        turn.emit({"t": "error", "text": sanitize(redact(text)), **extra})

    try:
        result = action(renderer, turn.cancel)
    except KeyboardInterrupt:
        # Stopped outside the stream itself (summarising, a retry's wait).
        turn.emit({"t": "outcome", "level": "hint", "key": "stopped", "actions": ["retry"]})
        status = "interrupted"
    except ImagesRejected as exc:
        error(str(exc), hint="images", actions=["retry"])
    except ApiError as exc:
        kept = bool(chat.session.conversation.messages)
        error(str(exc), hint="kept" if kept else None, actions=["retry"] if kept else [])
    except MessageTooLarge as exc:
        error(str(exc), hint="too_large")
    except ChatbotError as exc:
        error(str(exc))
    except Exception as exc:  # a bug: say so in one line, never a traceback
        error(f"internal error ({type(exc).__name__}); the conversation is kept")
    else:
        status = str(result.reply.status)
        _report(turn, result)
    finally:
        renderer.finish()
        # The turn is over for the page: it may send again once this arrives.
        turn.emit({"t": "done", "status": status, "state": {**chat.status(), "busy": False}})


def _report(turn: WebTurn, result: TurnResult) -> None:
    """The notices after a reply: its sources, the budget, summaries, and how it ended."""
    # The terminal's lines after an answer: one per source, or that nothing was found.
    lines = knowledge_lines(result.references, result.reply.sources)
    if lines:
        turn.emit({"t": "sources", "lines": [sanitize(line) for line in lines]})
    if result.compacted_turns:
        turn.emit({"t": "budget", "key": "compacted", "count": result.compacted_turns})
    if result.compaction_note:
        turn.emit({"t": "notice", "level": "warning", "text": sanitize(result.compaction_note)})
    if result.first_drop:
        turn.emit({"t": "budget", "key": "dropped", "count": result.dropped_turns})
    outcome = describe_outcome(result.reply, tool_rounds=result.tool_rounds)
    if outcome is None:
        return
    turn.emit(
        {
            "t": "outcome",
            "level": outcome.level,
            "text": sanitize(outcome.text),
            "actions": _offers(outcome.next_step),
        }
    )


def _offers(next_step: str | None) -> list[str]:
    """The buttons for what the terminal would suggest typing next."""
    if not next_step:
        return []
    offers = []
    if "/continue" in next_step:
        offers.append("continue")
    if "/retry" in next_step:
        offers.append("retry")
    return offers


def turn_request(body: Mapping[str, object]) -> tuple[str, str, list[str]]:
    """(action, text, attachment ids) from a turn request's JSON; ValueError if malformed."""
    action = body.get("action", "send")
    text = body.get("text", "")
    ids = body.get("attachments", [])
    if action not in ("send", "retry", "continue", "edit"):
        raise ValueError(_("action must be send, retry, continue or edit"))
    if not isinstance(text, str):
        raise ValueError(_("text must be a string"))
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError(_("attachments must be a list of ids"))
    return str(action), text, [str(i) for i in ids]
