from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.conversation.history import Budget, Conversation, fit_to_budget
from chatbot.conversation.messages import Message, Role
from chatbot.conversation.token_counter import TokenCounter
from chatbot.errors import MessageTooLarge


def user(text: str) -> Message:
    return Message(role=Role.USER, content=text)


def assistant(text: str) -> Message:
    return Message(role=Role.ASSISTANT, content=text)


SYSTEM = Message(role=Role.SYSTEM, content="You are helpful.")


def history_of(turns: int, words: int = 20) -> list[Message]:
    messages: list[Message] = []
    for n in range(turns):
        messages.append(user(f"question {n} " + "word " * words))
        messages.append(assistant(f"answer {n} " + "word " * words))
    return messages


def test_everything_fits_in_a_large_window() -> None:
    history = [*history_of(5), user("latest")]
    fitted = fit_to_budget(
        system=SYSTEM,
        history=history,
        counter=TokenCounter(),
        budget=Budget(context_window=100_000, reserved_for_reply=1000),
    )
    assert fitted.messages == [SYSTEM, *history]
    assert fitted.dropped_turns == 0


def test_oldest_whole_turns_are_dropped_first() -> None:
    counter = TokenCounter()
    history = [*history_of(10), user("latest question")]
    per_turn = counter.message_tokens(history[0]) + counter.message_tokens(history[1])
    fixed = counter.request_tokens([SYSTEM]) + counter.message_tokens(history[-1])
    budget = Budget(context_window=fixed + 3 * per_turn + 500, reserved_for_reply=500)
    fitted = fit_to_budget(system=SYSTEM, history=history, counter=counter, budget=budget)
    assert fitted.dropped_turns == 7
    sent = fitted.messages
    assert sent[0] is SYSTEM
    assert sent[1].content.startswith("question 7")
    assert sent[-1].content == "latest question"
    assert fitted.estimated_tokens <= budget.prompt_tokens


def test_a_message_larger_than_the_budget_is_refused() -> None:
    with pytest.raises(MessageTooLarge, match="Nothing was sent"):
        fit_to_budget(
            system=SYSTEM,
            history=[user("word " * 5000)],
            counter=TokenCounter(),
            budget=Budget(context_window=2048, reserved_for_reply=512),
        )


def test_budget_reserves_room_for_the_reply() -> None:
    assert Budget.for_window(8192, max_tokens=None).reserved_for_reply == 1024
    assert Budget.for_window(8192, max_tokens=300).prompt_tokens == 7892
    assert Budget.for_window(2048, max_tokens=4000).reserved_for_reply == 1024


def test_token_counts_are_cached_per_message() -> None:
    counter = TokenCounter()
    message = user("hello world " * 100)
    first = counter.raw_message_tokens(message)
    assert message.token_cache is not None
    assert counter.raw_message_tokens(message) == first
    message.content = "changed"
    assert counter.raw_message_tokens(message) < first


def test_calibration_moves_toward_reported_usage() -> None:
    counter = TokenCounter()
    messages = [SYSTEM, user("hello " * 50)]
    estimate = counter.request_tokens(messages)
    counter.calibrate(messages, reported_prompt_tokens=estimate * 2)
    assert counter.request_tokens(messages) > estimate * 1.5


def test_undo_and_retry_edit_the_conversation() -> None:
    conversation = Conversation(system_prompt="s")
    for message in history_of(2):
        conversation.append(message)
    replies = conversation.pop_replies_after_last_user()
    assert [m.content.split()[0] for m in replies] == ["answer"]
    assert conversation.messages[-1].role is Role.USER
    removed = conversation.pop_last_exchange()
    assert len(removed) == 1
    assert len(conversation.messages) == 2


message_strategy = st.builds(
    lambda role, text: Message(role=role, content=text),
    st.sampled_from([Role.USER, Role.ASSISTANT]),
    st.text(max_size=300),
)


@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(message_strategy, max_size=40),
    newest=st.text(min_size=1, max_size=200),
    window=st.integers(min_value=64, max_value=4000),
)
def test_trimmed_request_always_respects_the_rules(
    history: list[Message], newest: str, window: int
) -> None:
    counter = TokenCounter()
    full = [*history, user(newest)]
    budget = Budget.for_window(window, max_tokens=None)
    try:
        fitted = fit_to_budget(system=SYSTEM, history=full, counter=counter, budget=budget)
    except MessageTooLarge:
        assert counter.request_tokens([SYSTEM, full[-1]]) > budget.prompt_tokens
        return
    sent = fitted.messages
    assert sent[0] is SYSTEM
    assert sent[-1] is full[-1]
    assert counter.request_tokens(sent) <= budget.prompt_tokens
    kept = sent[1:]
    # Order kept, and what is kept is a suffix of the history.
    assert kept == full[len(full) - len(kept) :]
    # Never an assistant reply without the question it answered (unless the
    # history itself starts with one and everything fits).
    if len(kept) < len(full):
        assert kept[0].role is Role.USER
