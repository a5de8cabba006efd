"""The program speaks the user's language: which one, and that the catalogue is complete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatbot import i18n
from chatbot.errors import ConfigError
from chatbot.i18n import (
    _,
    choose_language,
    current_language,
    ngettext,
    quote,
    set_language,
    speaking,
)
from chatbot.settings.language import language_for
from chatbot.settings.paths import AppPaths
from chatbot.settings.user_config import configured_language, load_user_config
from i18n_tools.catalogue import check, placeholders
from i18n_tools.extract import extract_python


@pytest.fixture
def japanese() -> Iterator[None]:
    set_language("ja")
    yield
    set_language("en")


def test_every_message_has_a_japanese_entry_with_the_same_placeholders() -> None:
    # Fails on: a _() message without a translation, a translation whose {fields}
    # (or argparse's %-directives) differ from the English, or a stale .mo.
    # Fix: python -m i18n_tools, then translate what it lists.
    assert check("ja") == []


@pytest.mark.parametrize(
    ("english", "japanese", "same"),
    [
        ("{count} files", "{count} 個のファイル", True),
        ("{count:,} tokens", "{count} トークン", False),  # lost the thousands separator
        ("{path}: {error}", "{path}: {reason}", False),
        ("{a} and {b}", "{b} と {a}", True),  # order may change, names may not
        ("%(prog)s: error: %(message)s\n", "%(prog)s: エラー: %(message)s\n", True),
    ],
)
def test_placeholder_comparison(english: str, japanese: str, same: bool) -> None:
    percent = "%(" in english
    assert (placeholders(english, percent=percent) == placeholders(japanese, percent=percent)) is (
        same
    )


def test_a_message_the_extractor_cannot_read_is_a_problem() -> None:
    source = 'x = _(f"hello {name}")\ny = _("fine")\nz = ngettext(a, "b", 2)\n'
    found, problems = extract_python(source, reference="m.py")
    assert [f.msgid for f in found] == ["fine"]
    assert [p.where for p in problems] == ["m.py:1", "m.py:3"]


@pytest.mark.parametrize(
    ("environ", "configured", "expected"),
    [
        ({"LANG": "ja_JP.UTF-8"}, None, "ja"),
        ({"LANG": "ja_JP.eucJP"}, None, "ja"),
        ({"LANG": "ja"}, None, "ja"),
        ({"LANG": "en_US.UTF-8"}, None, "en"),
        ({"LANG": "fr_FR.UTF-8"}, None, "en"),
        ({"LANG": "C.UTF-8"}, None, "en"),
        ({}, None, "en"),
        # The first set variable decides, as for any program: LC_ALL=C means C.
        ({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, None, "en"),
        ({"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, None, "ja"),
        ({"LC_ALL": "", "LC_MESSAGES": "", "LANG": "ja_JP.UTF-8"}, None, "ja"),
        # config.toml's language beats the locale; CHATBOT_LANG beats both.
        ({"LANG": "en_US.UTF-8"}, "ja", "ja"),
        ({"LANG": "ja_JP.UTF-8"}, "en", "en"),
        ({"CHATBOT_LANG": "en", "LANG": "ja_JP.UTF-8"}, "ja", "en"),
        ({"CHATBOT_LANG": "ja", "LC_ALL": "C"}, None, "ja"),
        ({"CHATBOT_LANG": "klingon", "LANG": "ja_JP.UTF-8"}, None, "en"),
    ],
)
def test_choose_language(environ: dict[str, str], configured: str | None, expected: str) -> None:
    assert choose_language(environ, configured=configured) == expected


def test_language_comes_from_config_toml_and_dotenv(isolated_environment: Path) -> None:
    paths = AppPaths(config_dir=isolated_environment / "config", data_dir=isolated_environment)
    paths.config_dir.mkdir(parents=True)
    assert language_for({"LANG": "C.UTF-8"}, paths=paths) == "en"
    paths.user_config.write_text('language = "ja"\n', encoding="utf-8")
    assert language_for({"LANG": "C.UTF-8"}, paths=paths) == "ja"
    (paths.config_dir / ".env").write_text("CHATBOT_LANG=en\n", encoding="utf-8")
    assert language_for({"LANG": "C.UTF-8"}, paths=paths) == "en"
    assert language_for({"CHATBOT_LANG": "ja"}, paths=paths) == "ja"


def test_config_toml_language_is_checked_but_read_leniently_at_start(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('language = "auto"\n', encoding="utf-8")
    assert load_user_config(path).language is None
    path.write_text('language = "ja"\n', encoding="utf-8")
    assert load_user_config(path).language == "ja"
    path.write_text('language = "jp"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="language must be one of 'auto', 'en', 'ja', got 'jp'"):
        load_user_config(path)
    assert configured_language(path) is None
    path.write_text("language = [broken", encoding="utf-8")
    assert configured_language(path) is None
    assert configured_language(tmp_path / "absent.toml") is None


def test_japanese_messages_and_plurals(japanese: None) -> None:
    assert _("usage: ") == "使い方: "
    assert _("a message nobody translated") == "a message nobody translated"
    assert ngettext("expected %s argument", "expected %s arguments", 1) == "引数が %s 個必要です"


def test_a_context_speaks_its_reader_s_language_and_no_other_s() -> None:
    # The web chat: one process, each request in its browser's language.
    import contextvars
    import threading

    heard: dict[str, str] = {}
    ready = threading.Barrier(2)

    def reader(name: str, language: str) -> None:
        with speaking(language):
            ready.wait(timeout=5)  # both readers speak at once
            heard[name] = _("usage: ") + quote("x")

    threads = [
        threading.Thread(target=reader, args=("ja", "ja")),
        threading.Thread(target=reader, args=("en", "en")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert heard == {"ja": "使い方: 「x」", "en": "usage: 'x'"}
    assert _("usage: ") == "usage: " and current_language() == "en"  # the run's own
    with speaking("ja"):
        # A thread started with a copy of the context (a web turn) keeps the language.
        copied = contextvars.copy_context()
    result: list[str] = []
    thread = threading.Thread(target=copied.run, args=(lambda: result.append(_("usage: ")),))
    thread.start()
    thread.join(timeout=5)
    assert result == ["使い方: "]


def test_english_needs_no_catalogue() -> None:
    set_language("en")
    assert _("usage: ") == "usage: "
    assert ngettext("one file", "{count} files", 1) == "one file"
    assert ngettext("one file", "{count} files", 2) == "{count} files"
    assert i18n._catalogue is None


def test_a_missing_catalogue_means_english(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    set_language("ja")
    try:
        assert _("usage: ") == "usage: "
    finally:
        set_language("en")


def test_a_damaged_catalogue_means_english(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "ja" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "chatbot.mo").write_bytes(b"\xde\x12\x04\x95" + b"\x00" * 9)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    set_language("ja")
    try:
        assert _("usage: ") == "usage: "
    finally:
        set_language("en")
