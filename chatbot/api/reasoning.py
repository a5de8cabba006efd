"""Thinking apart from the answer: one parser for every way a server sends it.

Reasoning models send their thinking in one of three ways:

- ``delta.reasoning_content`` (DeepSeek, vLLM, llama.cpp with a reasoning parser) or
  ``delta.reasoning`` (Ollama, OpenRouter): :mod:`chunks` already makes these
  :class:`ReasoningDelta` events;
- inline, as ``<think>…</think>`` at the start of ``delta.content`` (llama.cpp and
  LM Studio without a parser, many GGUF chat templates), possibly split across
  chunks, unclosed when the reply hits ``max_tokens``, or with ``</think>`` glued
  straight onto the answer;
- inline with only the closing tag: templates that open ``<think>`` in the prompt
  (DeepSeek-R1 distills, QwQ) make the model reply ``thinking</think>answer``. The
  first such ``</think>`` turns the answer so far into thinking
  (:class:`AnswerWasThinking`); :class:`OpenedThinking` remembers the model, so its
  later replies start as thinking.

:func:`separate_thinking` turns all three into one stream: :class:`ReasoningDelta`
for thinking, :class:`TextDelta` for the answer. ``<think>`` is only recognised at
the very start of the content (after blank space), so a model writing about HTML in
its answer is never misread; text before it makes the whole reply an answer.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from chatbot.api.events import Finished, ReasoningDelta, StreamEvent, TextDelta

__all__ = [
    "CLOSE_TAG",
    "OPEN_TAG",
    "AnswerWasThinking",
    "OpenedThinking",
    "ThinkingSplitter",
    "ThoughtWithoutClose",
    "separate_thinking",
]

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

_START, _THINKING, _ANSWER = 0, 1, 2


@dataclass(frozen=True, slots=True)
class AnswerWasThinking:
    """A ``</think>`` with no opening tag: everything passed on as answer so far,
    ``text``, was thinking. The answer starts again after the tag."""

    text: str


@dataclass(frozen=True, slots=True)
class ThoughtWithoutClose:
    """A reply taken to start inside ``<think>`` (:class:`OpenedThinking`) that never
    closed it: ``text``, passed on as thinking, is the answer if the reply ended
    naturally (only the caller knows the finish values), else it was cut mid-thought."""

    text: str


Split = StreamEvent | AnswerWasThinking | ThoughtWithoutClose


class OpenedThinking:
    """The models whose chat template opens ``<think>`` in the prompt, seen so far.

    With a ``path`` (a small private file in the data folder) it is kept across runs,
    keyed by ``server`` and model, so a one-shot run's answer is not streamed with the
    thinking in front of it once any earlier run has seen that model's lone tag.
    """

    def __init__(self, path: Path | None = None, *, server: str = "") -> None:
        self._path = path
        self._server = server
        self._keys: set[str] | None = None

    def _load(self) -> set[str]:
        if self._keys is None:
            self._keys = set()
            if self._path is not None:
                try:
                    data = json.loads(self._path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    data = None
                if isinstance(data, list):
                    self._keys = {item for item in data if isinstance(item, str)}
        return self._keys

    def __contains__(self, model: object) -> bool:
        return f"{self._server}|{model}" in self._load()

    def add(self, model: str) -> None:
        keys = self._load()
        key = f"{self._server}|{model}"
        if key in keys:
            return
        keys.add(key)
        if self._path is not None:
            from chatbot.errors import ConfigError
            from chatbot.settings.paths import write_private

            # Only a shortcut for next time: failing to keep it changes nothing now.
            with contextlib.suppress(ConfigError):
                write_private(self._path, json.dumps(sorted(keys), indent=1))


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

    def __init__(self, *, opened: bool = False) -> None:
        self._state = _START
        #: The prompt opened ``<think>`` already: the reply starts inside it.
        self._opened = opened
        self._held = ""
        self._thought = False  # some thinking was passed on
        self._thinking_seen = False  # a thinking block or field, even an empty one
        self._answered = False  # some answer text was passed on
        #: The answer so far, while a closing tag alone could still make it thinking.
        self._answer_so_far: list[str] | None = None
        self._recent = ""  # the end of it: enough to see a tag split across chunks
        #: The thinking so far, while it was only assumed (``opened``, no tag seen).
        self._assumed: list[str] | None = None

    def text(self, chunk: str) -> list[Split]:
        """Events for one piece of ``delta.content``."""
        out: list[Split] = []
        if self._state == _ANSWER:
            if self._answer_so_far is None:
                self._answer(chunk, out)
            else:
                self._watch_for_close(chunk, out)
            return out
        buffer = self._held + chunk
        self._held = ""
        if self._state == _START:
            stripped = buffer.lstrip()
            if len(stripped) < len(OPEN_TAG) and OPEN_TAG.startswith(stripped):
                self._held = buffer  # blank so far, or maybe the start of "<think>"
                return out
            if stripped.startswith(OPEN_TAG):
                buffer = stripped[len(OPEN_TAG) :]
            elif self._opened:
                buffer = stripped
                self._assumed = []
            else:
                self._state = _ANSWER
                self._answer_so_far = [] if not self._thinking_seen else None
                self._text_after_start(buffer, out)
                return out
            self._state = _THINKING
            self._thinking_seen = True
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
        self._assumed = None  # the tag came: it was thinking
        self._answer(buffer[end + len(CLOSE_TAG) :], out)
        return out

    def _text_after_start(self, buffer: str, out: list[Split]) -> None:
        if self._answer_so_far is None:
            self._answer(buffer, out)
        else:
            self._watch_for_close(buffer, out)

    def _watch_for_close(self, chunk: str, out: list[Split]) -> None:
        """Answer text that may still turn out to be thinking, at a lone ``</think>``."""
        assert self._answer_so_far is not None
        buffer = self._held + chunk
        self._held = ""
        # The end of what was passed on, so an opening tag split across chunks is seen.
        probe = self._recent + buffer
        opening = probe.find(OPEN_TAG)
        if opening >= 0 and not 0 <= probe.find(CLOSE_TAG) < opening:
            # An opening tag in the answer: the model is writing about tags.
            self._answer_so_far = None
            self._answer(buffer, out)
            return
        start = 0
        while True:
            end = buffer.find(CLOSE_TAG, start)
            if end < 0:
                break
            after = end + len(CLOSE_TAG)
            # A tag quoted in code (`</think>`) is the model writing about tags.
            if buffer[end - 1 : end] == "`" or buffer[after : after + 1] == "`":
                start = after
                continue
            thought = "".join(self._answer_so_far) + buffer[:end]
            self._answer_so_far = None
            self._thinking_seen = True
            self._answered = False
            out.append(AnswerWasThinking(thought.strip()))
            self._answer(buffer[after:], out)
            return
        # Either tag may be split across chunks: "<t" may yet be "<think>", which would
        # make this an answer about tags rather than thinking before a lone "</think>".
        keep = max(_held_suffix(buffer, CLOSE_TAG), _held_suffix(buffer, OPEN_TAG))
        if keep:
            self._held = buffer[-keep:]
            buffer = buffer[:-keep]
        before = len(out)
        self._answer(buffer, out)
        passed = [e.text for e in out[before:] if isinstance(e, TextDelta)]
        self._answer_so_far += passed
        self._recent = (self._recent + "".join(passed))[-(len(OPEN_TAG) - 1) :]

    def reasoning(self, chunk: str) -> list[Split]:
        """Events for one piece of a reasoning field (``reasoning_content``, ``reasoning``)."""
        out: list[Split] = []
        # A server that parses the thinking itself leaves no lone tag to find.
        if not self._answered:
            self._answer_so_far = None
        self._think(chunk, out)
        return out

    def flush(self) -> list[Split]:
        """The end of the reply: text held back is what it looked like so far."""
        held, self._held = self._held, ""
        out: list[Split] = []
        if self._state == _THINKING:
            # An unclosed "<think>" (cut by max_tokens): all of it was thinking.
            self._think(held, out)
            if self._assumed is not None:
                thought = "".join(self._assumed)
                self._assumed = None
                if thought.strip():
                    out.append(ThoughtWithoutClose(thought))
        elif held:
            self._answer(held, out)
        return out

    def _think(self, text: str, out: list[Split]) -> None:
        self._thinking_seen = True
        if not self._thought:
            text = text.lstrip()
        if text:
            self._thought = True
            out.append(ReasoningDelta(text))
            if self._assumed is not None:
                self._assumed.append(text)

    def _answer(self, text: str, out: list[Split]) -> None:
        if self._thinking_seen and not self._answered:
            text = text.lstrip()
        if text:
            self._answered = True
            out.append(TextDelta(text))


def separate_thinking(events: Iterable[StreamEvent], *, opened: bool = False) -> Iterator[Split]:
    """``events`` with inline ``<think>`` turned into :class:`ReasoningDelta` events.

    Reasoning-field deltas pass through (trimmed the same way), usage and the finish
    event pass through after any text held back. ``opened``: the model's template
    opens ``<think>`` in the prompt, so the reply starts inside it.
    """
    splitter = ThinkingSplitter(opened=opened)
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
