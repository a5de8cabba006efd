"""The one parser that separates thinking from the answer, whatever form it came in."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chatbot.api.events import Finished, ReasoningDelta, StreamEvent, TextDelta, UsageReport
from chatbot.api.reasoning import AnswerWasThinking, separate_thinking


def split(events: Sequence[StreamEvent], *, opened: bool = False) -> tuple[str, str]:
    """(thinking, answer) after the parser, with every event passing through."""
    thinking: list[str] = []
    answer: list[str] = []
    for event in separate_thinking(events, opened=opened):
        if isinstance(event, AnswerWasThinking):
            # What was passed on as the answer so far (and up to the tag) was thinking.
            assert event.text.startswith("".join(answer).strip())
            thinking.append(event.text)
            answer.clear()
        elif isinstance(event, ReasoningDelta):
            assert event.text, "no empty thinking events"
            thinking.append(event.text)
        elif isinstance(event, TextDelta):
            assert event.text, "no empty answer events"
            answer.append(event.text)
    return "".join(thinking), "".join(answer)


def content(*chunks: str, opened: bool = False) -> tuple[str, str]:
    return split([TextDelta(c) for c in chunks] + [Finished("stop")], opened=opened)


INLINE = "<think>\nThe user wants 2 + 2.\nThat is 4.\n</think>\n\nThe answer is **4**."


def test_inline_thinking_with_newlines_is_separated() -> None:
    assert content(INLINE) == ("The user wants 2 + 2.\nThat is 4.\n", "The answer is **4**.")


def test_tight_form_with_the_close_tag_glued_to_the_answer() -> None:
    assert content("<think>add them</think>4") == ("add them", "4")


def test_unclosed_think_is_all_thinking() -> None:
    # A reply cut by max_tokens mid-thought: nothing of it is an answer.
    assert content("<think>\nStill working on it, step 1", ", step 2") == (
        "Still working on it, step 1, step 2",
        "",
    )


def test_blank_space_before_think_is_allowed() -> None:
    assert content("\n\n  <think>hmm</think>\n\nyes") == ("hmm", "yes")


def test_text_before_think_makes_it_all_answer() -> None:
    # "<think>" is only recognised at the start: here the model is writing about it.
    reply = "Models write <think>…</think> before answering."
    assert content(reply) == ("", reply)


@pytest.mark.parametrize(
    "reply",
    [
        "<div>Hello</div>",
        "<thinking>not our tag</thinking> done",
        "<thin",
        "<",
        "Quoted: `</think>` closes a block",
        "<details><summary>Click</summary>body</details>",
        "  indented code?",
    ],
)
def test_answers_that_only_look_like_tags_pass_through_unchanged(reply: str) -> None:
    assert content(reply) == ("", reply)


CLOSE_ONLY = "Okay, the user wants 2 + 2.\nThat is 4.\n</think>\n\nThe answer is **4**."


def test_a_closing_tag_alone_makes_what_came_before_it_thinking() -> None:
    # Templates that open <think> in the prompt (R1 distills, QwQ): the reply has no
    # opening tag, only the close (issue 23).
    whole = content(CLOSE_ONLY)
    assert whole == ("Okay, the user wants 2 + 2.\nThat is 4.", "The answer is **4**.")
    for cut in range(len(CLOSE_ONLY) + 1):
        assert content(CLOSE_ONLY[:cut], CLOSE_ONLY[cut:]) == whole, cut
    assert content(*CLOSE_ONLY) == whole


def test_a_model_known_to_open_in_the_prompt_starts_as_thinking() -> None:
    reply = "Okay, 2 + 2 is 4.\n</think>\n\n4"
    assert content(reply, opened=True) == ("Okay, 2 + 2 is 4.\n", "4")
    for cut in range(len(reply) + 1):
        assert content(reply[:cut], reply[cut:], opened=True) == ("Okay, 2 + 2 is 4.\n", "4")
    # It may still send the opening tag itself.
    assert content("<think>hm</think>ok", opened=True) == ("hm", "ok")


def test_a_close_tag_inside_the_answer_stays_in_the_answer() -> None:
    assert content("<think>a</think>b </think> c") == ("a", "b </think> c")


@pytest.mark.parametrize(
    "reply",
    [INLINE, "<think>add them</think>4", "<think>\nunclosed", "  <think>x</think>\n\n<div>y</div>"],
)
def test_split_at_every_boundary_gives_the_same_result(reply: str) -> None:
    whole = content(reply)
    for cut in range(len(reply) + 1):
        assert content(reply[:cut], reply[cut:]) == whole, cut
    assert content(*reply) == whole  # one character a chunk


def test_reasoning_fields_pass_through_and_the_answer_loses_its_leading_blank_lines() -> None:
    events: list[StreamEvent] = [
        TextDelta("\n"),
        ReasoningDelta("\nFirst, "),
        ReasoningDelta("recall the rule."),
        TextDelta("\n\n"),
        TextDelta("Paris."),
        Finished("stop"),
        UsageReport(prompt_tokens=5, completion_tokens=9, reasoning_tokens=4),
    ]
    assert split(events) == ("First, recall the rule.", "Paris.")
    kinds = [type(e).__name__ for e in separate_thinking(events)]
    assert kinds[-2:] == ["Finished", "UsageReport"], "finish and usage still arrive, in order"


def test_without_thinking_the_answer_is_untouched() -> None:
    assert content("\n\nHello", " world\n") == ("", "\n\nHello world\n")


# -- any split of the stream gives the same thinking and answer --------------------

# Text made of the pieces that matter: tag fragments, blank space, ordinary words.
_PIECES = st.sampled_from(
    ["<think>", "</think>", "<", "/", "think", ">", "\n", " ", "ok", "<thi", "nk>", "é", "a"]
)
_REPLIES = st.one_of(
    st.lists(_PIECES, max_size=25).map("".join),
    st.tuples(st.text(max_size=40), st.text(max_size=40)).map(
        lambda parts: f"<think>{parts[0]}</think>{parts[1]}"
    ),
)


@st.composite
def replies_and_cuts(draw: st.DrawFn) -> tuple[str, list[int]]:
    reply = draw(_REPLIES)
    cuts = sorted(draw(st.lists(st.integers(0, len(reply)), max_size=8)))
    return reply, cuts


@given(replies_and_cuts())
# An opening tag split across chunks, just before a closing one: an answer about tags.
@example(("<<think></think>", [3]))
def test_any_chunking_gives_the_same_thinking_and_answer(case: tuple[str, list[int]]) -> None:
    reply, cuts = case
    bounds = [0, *cuts, len(reply)]
    chunks = [reply[a:b] for a, b in itertools.pairwise(bounds)]
    assert content(*chunks) == content(reply)


@given(st.text(max_size=60))
def test_a_reply_not_starting_with_think_is_all_answer(reply: str) -> None:
    if reply.lstrip().startswith("<think>") or "</think>" in reply:
        return
    # Even blank space, or a reply that ends while it might still have become
    # "<think>", is kept as it came.
    assert content(reply) == ("", reply)


@given(st.text(max_size=40), st.text(max_size=40))
def test_inline_thinking_never_leaks_into_the_answer(thought: str, answer: str) -> None:
    if "</think>" in thought:
        return
    thinking, shown = content(f"<think>{thought}</think>{answer}")
    assert thinking == thought.lstrip()
    assert shown == answer.lstrip()


def test_an_empty_think_block_still_trims_the_answer() -> None:
    # Qwen3 with thinking switched off sends an empty block.
    assert content("<think>\n\n</think>\n\nHi!") == ("", "Hi!")


def test_an_assumed_opening_that_never_closes_is_offered_back_as_the_answer() -> None:
    from chatbot.api.reasoning import ThoughtWithoutClose

    events = [TextDelta("Just "), TextDelta("the answer."), Finished("stop")]
    out = list(separate_thinking(events, opened=True))
    assert ThoughtWithoutClose("Just the answer.") in out
    # An explicit <think> that never closes is thinking, whatever was assumed.
    explicit = [TextDelta("<think>still going"), Finished("length")]
    assert not any(
        isinstance(e, ThoughtWithoutClose) for e in separate_thinking(explicit, opened=True)
    )
