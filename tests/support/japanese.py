"""Checks for the Japanese interface: no English left in the program's own lines, and
nothing wider than the terminal or cut through a character.

Measured with ``wcwidth`` (what terminals use), not with the chatbot's own cell helper,
so the check does not agree with the code merely by sharing it.
"""

from __future__ import annotations

import re

from wcwidth import wcswidth

from tests.support.terminal import TOOLBAR_JA, strip_ansi

__all__ = ["JAPANESE_ENV", "cells", "english_words", "japanese_env", "program_lines"]

#: A Japanese locale, as a Japanese user's shell has it (CHATBOT_LANG not set).
JAPANESE_ENV = {"LANG": "ja_JP.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}

#: Words that stay as they are in a Japanese interface: keys, commands' own words,
#: file formats, variables and protocol names.
ALLOWED = frozenset(
    [
        "Enter",
        "Alt",
        "Esc",
        "Ctrl",
        "Tab",
        "Up",
        "Down",
        "Ctrl-C",
        "Ctrl-D",
        "Ctrl-J",
        "Ctrl-X",
        "Ctrl-E",
        "Alt-Enter",
        "EDITOR",
        "VISUAL",
        "Markdown",
        "JSON",
        "md",
        "json",
        "OSC",
        "SSH",
        "on",
        "off",
        "show",
        "fold",
        "hide",
        "clear",
        "exit",
        "quit",
        "max_tokens",
        "custom",
        "default",
        "it-support",
        "casual-friend",
        "business-assistant",
        "japanese-teacher",
        "shell",
        "MCP",
        "GGUF",
        "API",
        "URL",
        "OS",
        "ID",
        "HTTP",
        "IT",
        "sudo",
        # A command typed as it is (/help points to the web chat: chatbot serve).
        "chatbot",
        "serve",
    ]
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ASCII_RUN = re.compile(r"[!-~]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z_\-']*[A-Za-z]")


def japanese_env(base: dict[str, str]) -> dict[str, str]:
    """``base`` (a test terminal's environment) in a Japanese locale."""
    env = {**base, **JAPANESE_ENV}
    env.pop("CHATBOT_LANG", None)
    return env


def cells(text: str) -> int:
    """The width of ``text`` on a terminal (-1 for a control character)."""
    return int(wcswidth(text))


def english_words(line: str, *, also: frozenset[str] = frozenset()) -> list[str]:
    """English words in ``line`` that a Japanese interface should not show.

    Commands (``/help``), options (``--yes``), variables (``$EDITOR``), paths and
    names in ``also`` (models, files the test made) are not words to translate.
    """
    kept = []
    for run in _ASCII_RUN.findall(line):
        token = run.strip("([{<'\"").rstrip(")]}>'\",.:;!?")
        if not token or token.startswith(("/", "-", "$", "#", "~", "%")):
            continue
        if any(mark in token for mark in "./=_@") or any(c.isdigit() for c in token):
            continue  # paths, URLs, file names, settings, variables, model names
        kept.append(token)
    return [
        word
        for word in _WORD.findall(" ".join(kept))
        if word not in ALLOWED and word not in also and not word.isupper()
    ]


def program_lines(output: str, *, exclude: tuple[str, ...] = ()) -> list[str]:
    """The lines a terminal transcript shows, without the prompt's own echo and toolbar.

    ``exclude`` drops lines containing any of those strings (what the user typed,
    what the model replied): the program's own lines are what is left.
    """
    lines = []
    for raw in strip_ansi(output).split("\n"):
        # prompt-toolkit's cursor dance leaves lone backspaces between redraws.
        line = _CONTROL.sub("", raw).strip()
        if not line or line.startswith("›") or TOOLBAR_JA.search(line):
            continue
        if any(part in line for part in exclude):
            continue
        lines.append(line)
    return lines
