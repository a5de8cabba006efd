"""Searching the knowledge bases for one question, within the share of the budget left.

Only the newest question carries passages: older ones are sent bare, so a long
chat does not pay for every earlier search again.
"""

from __future__ import annotations

from chatbot.conversation.messages import Message
from chatbot.conversation.references import References
from chatbot.conversation.state import SessionState
from chatbot.conversation.token_counter import TokenCounter

__all__ = ["look_up"]

#: Tokens left free beside the question and the passages (rounding in the estimates).
_QUESTION_MARGIN = 32


def look_up(question: Message, *, state: SessionState, counter: TokenCounter) -> References | None:
    """Search the bases in use for ``question``; its passages go with it.

    Sets the sources the turn's replies are given; None when no base is in use.
    """
    retriever = state.retriever
    if retriever is None:
        state.reply_sources = ()
        return None
    conversation = state.conversation
    for message in conversation.messages:
        if message.references is not None:
            message.references = None
            # The cached count included the passages just taken away.
            message.token_cache = None
    budget = state.budget.prompt_tokens
    share = int(budget * retriever.share_for(state.persona))
    fixed = counter.request_tokens(
        [conversation.system_message(), *conversation.summaries, question]
    )
    room = min(share, budget - fixed - _QUESTION_MARGIN)
    found = retriever.retrieve(question.content, persona=state.persona, max_tokens=room)
    if found is not None and found.searched:
        question.references = found
        question.token_cache = None
    state.reply_sources = found.sources if found is not None else ()
    return found
