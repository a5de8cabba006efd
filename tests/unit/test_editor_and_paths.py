"""The editor behind /edit and Ctrl-X Ctrl-E, and how /file splits and completes paths."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chatbot.errors import ChatbotError
from chatbot.repl.commands.compose_commands import split_paths
from chatbot.repl.editor import edit_text, editor_command
from chatbot.repl.file_completion import current_word
from chatbot.repl.input_line import SlashCompleter

# -- which editor -------------------------------------------------------------------


def test_visual_wins_over_editor_and_may_carry_flags() -> None:
    env = {"VISUAL": "code --wait", "EDITOR": "vi"}
    assert editor_command(env) == ["code", "--wait"]
    assert editor_command({"EDITOR": "nano -w"}) == ["nano", "-w"]


def test_without_either_the_first_installed_fallback() -> None:
    found = {"nano": "/usr/bin/nano", "vi": "/usr/bin/vi"}
    assert editor_command({}, which=found.get) == ["/usr/bin/nano"]
    assert editor_command({}, which=lambda _: None) is None


def test_edit_text_round_trips_through_a_file() -> None:
    seen: list[str] = []

    def editor(argv: Sequence[str]) -> int:
        path = Path(argv[-1])
        seen.append(path.read_text())
        assert path.stat().st_mode & 0o077 == 0, "the draft is private"
        assert path.suffix == ".md"
        path.write_text("rewritten\nin the editor\n")
        return 0

    assert edit_text("draft", environ={"EDITOR": "ed"}, run=editor) == "rewritten\nin the editor"
    assert seen == ["draft\n"]


def test_no_editor_at_all_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chatbot.repl.editor.shutil.which", lambda _: None)
    with pytest.raises(ChatbotError, match=r"no editor found: set \$EDITOR"):
        edit_text("x", environ={})


def test_an_editor_that_does_not_exist() -> None:
    with pytest.raises(ChatbotError) as caught:
        edit_text("x", environ={"EDITOR": "/no/such/editor"})
    assert str(caught.value).startswith("cannot start the editor '/no/such/editor'")


# -- /file's paths ------------------------------------------------------------------


def test_paths_split_like_a_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert split_paths("a.txt \"my notes.txt\" 'b c.md'") == [
        Path("a.txt"),
        Path("my notes.txt"),
        Path("b c.md"),
    ]
    (tmp_path / "two words.txt").write_text("x")
    # A whole argument naming an existing file needs no quotes.
    assert split_paths("two words.txt") == [Path("two words.txt")]
    with pytest.raises(ChatbotError, match="a quote is not closed"):
        split_paths('"open')


def test_the_word_being_completed() -> None:
    assert current_word("a.txt ph") == ("ph", "")
    assert current_word('a.txt "my no') == ("my no", '"')
    assert current_word("a.txt ") == ("", "")


def completions(text: str) -> list[str]:
    completer = SlashCompleter(
        commands=lambda: ["/file", "/persona"],
        arguments=lambda _: [],
        path_commands=lambda: ["file"],
    )
    return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]


def test_paths_complete_after_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = tmp_path / "project"
    tmp_path.mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "my notes.txt").write_text("x")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "plan.md").write_text("x")
    (tmp_path / ".hidden").write_text("x")

    assert completions("/file no") == ["notes.txt"]
    assert completions("/file my") == ['"my notes.txt"']
    assert completions('/file "my') == ['"my notes.txt"']
    # A folder keeps going: no closing quote, a slash to type on from.
    assert completions("/file do") == ["docs/"]
    assert completions("/file docs/p") == ["docs/plan.md"]
    assert completions("/file ") == ["docs/", '"my notes.txt"', "notes.txt"]
    assert completions("/file .h") == [".hidden"]
    assert completions("/persona no") == [], "only /file completes paths"
