"""Thinking apart from the answer: one parser for every way a server sends it.

Reasoning models send their thinking in one of three ways:

- ``delta.reasoning_content`` (DeepSeek, vLLM, llama.cpp with a reasoning parser) or
  ``delta.reasoning`` (Ollama, OpenRouter): :mod:`chunks` already makes these
  :class:`ReasoningDelta` events;
- inline, as ``<think>…</think>`` at the start of ``delta.content`` (llama.cpp and
  LM Studio without a parser, many GGUF chat templates), possibly split across
  chunks, unclosed when the reply hits ``max_tokens``, or with ``</think>`` glued
  straight onto the answer.

:func:`separate_thinking` turns all three into one stream: :class:`ReasoningDelta`
for thinking, :class:`TextDelta` for the answer. ``<think>`` is only recognised at
the very start of the content (after blank space), so a model writing about HTML in
its answer is never misread; text before it makes the whole reply an answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from chatbot.api.events import Finished, ReasoningDelta, StreamEvent, TextDelta

__all__ = ["CLOSE_TAG", "OPEN_TAG", "ThinkingSplitter", "separate_thinking"]

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

_START, _THINKING, _ANSWER = 0, 1, 2


def _held_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that could be the start of ``tag``."""
    # Only the last few characters can matter; look for the tag's "<" there first.
    start = text.rfind("<", max(0, len(text) - len(tag) + 1))
    while start >= 0:
        if tag.startswith(text[start:]):
            return len(text) - start
        start = text.rfind("<", max(0, len(text) - len(tag) + 1), start)
    return 0


class ThinkingSplitter:
    """Splits a reply, chunk by chunk, into thinking and answer events.

    Whatever the chunking, the thinking and the answer it yields are the same: text
    that might be part of a tag is held back until the next chunk settles it. Leading
    blank space is dropped from the thinking, and from the answer once there was
    thinking, even an empty ``<think></think>`` (the blank lines after ``</think>``).
    """

    def __init__(self) -> None:
        self._state = _START
        self._held = ""
        self._thought = False  # some thinking was passed on
        self._thinking_seen = False  # a thinking block or field, even an empty one
        self._answered = False  # some answer text was passed on

    def text(self, chunk: str) -> list[StreamEvent]:
        """Events for one piece of ``delta.content``."""
        out: list[StreamEvent] = []
        if self._state == _ANSWER:
            self._answer(chunk, out)
            return out
        buffer = self._held + chunk
        self._held = ""
        if self._state == _START:
            stripped = buffer.lstrip()
            if len(stripped) < len(OPEN_TAG) and OPEN_TAG.startswith(stripped):
                self._held = buffer  # blank so far, or maybe the start of "<think>"
                return out
            if not stripped.startswith(OPEN_TAG):
                self._state = _ANSWER
                self._answer(buffer, out)
                return out
            self._state = _THINKING
            self._thinking_seen = True
            buffer = stripped[len(OPEN_TAG) :]
        end = buffer.find(CLOSE_TAG)
        if end < 0:
            keep = _held_suffix(buffer, CLOSE_TAG)
            if keep:
                self._held = buffer[-keep:]
                buffer = buffer[:-keep]
            self._think(buffer, out)
            return out
        self._think(buffer[:end], out)
        self._state = _ANSWER
        self._answer(buffer[end + len(CLOSE_TAG) :], out)
        return out

    def reasoning(self, chunk: str) -> list[StreamEvent]:
        """Events for one piece of a reasoning field (``reasoning_content``, ``reasoning``)."""
        out: list[StreamEvent] = []
        self._think(chunk, out)
        return out

    def flush(self) -> list[StreamEvent]:
        """The end of the reply: text held back is what it looked like so far."""
        held, self._held = self._held, ""
        out: list[StreamEvent] = []
        if self._state == _THINKING:
            # An unclosed "<think>" (cut by max_tokens): all of it was thinking.
            self._think(held, out)
        elif held:
            self._answer(held, out)
        return out

    def _think(self, text: str, out: list[StreamEvent]) -> None:
        self._thinking_seen = True
        if not self._thought:
            text = text.lstrip()
        if text:
            self._thought = True
            out.append(ReasoningDelta(text))

    def _answer(self, text: str, out: list[StreamEvent]) -> None:
        if self._thinking_seen and not self._answered:
            text = text.lstrip()
        if text:
            self._answered = True
            out.append(TextDelta(text))


def separate_thinking(events: Iterable[StreamEvent]) -> Iterator[StreamEvent]:
    """``events`` with inline ``<think>`` turned into :class:`ReasoningDelta` events.

    Reasoning-field deltas pass through (trimmed the same way), usage and the finish
    event pass through after any text held back.
    """
    splitter = ThinkingSplitter()
    for event in events:
        if isinstance(event, TextDelta):
            yield from splitter.text(event.text)
        elif isinstance(event, ReasoningDelta):
            yield from splitter.reasoning(event.text)
        else:
            if isinstance(event, Finished):
                yield from splitter.flush()
            yield event
    yield from splitter.flush()
