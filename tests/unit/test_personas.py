"""Personas: the shipped set, layering of user files, and friendly one-line errors."""

from __future__ import annotations

import importlib.resources
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chatbot
from chatbot.errors import PersonaError
from chatbot.settings.personas import (
    MAX_FILE_BYTES,
    Persona,
    PersonaBook,
    format_persona_list,
    load_personas,
)

SHIPPED = ("default", "it-support", "casual-friend", "business-assistant", "japanese-teacher")


def write(tmp_path: Path, text: str, name: str = "mine.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    """Load only ``path`` and return the PersonaError message it must produce."""
    with pytest.raises(PersonaError) as info:
        load_personas(builtin=False, extra_files=[path])
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# --- the shipped personas ----------------------------------------------------


def test_shipped_personas_are_all_present_with_prompts_and_greetings() -> None:
    book = load_personas()
    assert set(SHIPPED) <= set(book.names())
    for name in SHIPPED:
        persona = book.get(name)
        assert persona.system.strip()
        assert persona.description.strip()
        assert persona.greeting


def test_shipped_prompts_carry_the_guides_role_sentences() -> None:
    book = load_personas()
    assert "ITサポートスタッフ" in book.get("it-support").system
    assert "親しみやすい友人" in book.get("casual-friend").system
    assert "礼儀正しいビジネスアシスタント" in book.get("business-assistant").system
    assert "親切な日本語教師" in book.get("japanese-teacher").system
    assert "romaji" in book.get("japanese-teacher").system


def test_shipped_temperatures_follow_the_guide() -> None:
    book = load_personas()
    casual = book.get("casual-friend").temperature
    assert casual is not None
    for focused in ("it-support", "business-assistant"):
        temperature = book.get(focused).temperature
        assert temperature is not None
        assert temperature < casual


def test_shipped_file_is_found_through_the_package_not_the_working_directory(
    tmp_path: Path,
) -> None:
    resource = importlib.resources.files("chatbot.settings") / "personas.toml"
    assert resource.is_file()
    assert load_personas().get("default").source == str(resource)
    # Run from an unrelated folder: only the package location may lead to the file.
    package_root = Path(chatbot.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    code = "from chatbot.settings.personas import load_personas; print(*load_personas().names())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == list(SHIPPED)


# --- layering ------------------------------------------------------------------


def test_user_file_adds_personas_after_the_shipped_ones(tmp_path: Path) -> None:
    user = write(
        tmp_path, '[personas.pirate]\ndescription = "Arr"\nsystem = "Talk like a pirate."\n'
    )
    book = load_personas(user_file=user)
    assert book.names() == [*SHIPPED, "pirate"]
    pirate = book.get("pirate")
    assert pirate.system == "Talk like a pirate."
    assert pirate.source == str(user)


def test_override_updates_only_the_keys_it_sets(tmp_path: Path) -> None:
    shipped = load_personas().get("it-support")
    user = write(tmp_path, '[personas.it-support]\nmodel = "small-model"\ntemperature = 0\n')
    book = load_personas(user_file=user)
    persona = book.get("it-support")
    assert persona.model == "small-model"
    assert persona.temperature == 0.0
    assert persona.system == shipped.system
    assert persona.greeting == shipped.greeting
    assert persona.source == str(user)
    assert book.names() == list(SHIPPED)  # overriding keeps the original position


def test_later_files_win_over_earlier_ones(tmp_path: Path) -> None:
    user = write(tmp_path, '[personas.a]\nsystem = "from user"\ntemperature = 0.1\n', "user.toml")
    extra = write(tmp_path, '[personas.a]\nsystem = "from extra"\n', "extra.toml")
    persona = load_personas(builtin=False, user_file=user, extra_files=[extra]).get("a")
    assert persona.system == "from extra"
    assert persona.temperature == 0.1


def test_missing_user_file_is_fine_but_missing_extra_file_is_an_error(tmp_path: Path) -> None:
    book = load_personas(user_file=tmp_path / "absent.toml")
    assert book.names() == list(SHIPPED)
    assert "not found" in load_error(tmp_path / "absent.toml")


def test_new_persona_without_system_prompt_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, '[personas.fresh]\ndescription = "no prompt"\n')
    assert "missing 'system'" in load_error(path)


def test_empty_file_and_file_without_personas_load_as_nothing(tmp_path: Path) -> None:
    assert len(load_personas(builtin=False, extra_files=[write(tmp_path, "")])) == 0
    assert len(load_personas(builtin=False, extra_files=[write(tmp_path, "# hi\n")])) == 0


def test_all_keys_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [personas.full]
        description = "everything"
        system = "  prompt  "
        model = "m"
        temperature = 2
        top_p = 0.5
        max_tokens = 300
        stop = ["END", "###"]
        greeting = "hello"
        context_window = 8192
        cache = true
        overflow = "summarize"
        provider = "local"
        """,
    )
    persona = load_personas(builtin=False, extra_files=[path]).get("full")
    assert persona == Persona(
        name="full",
        description="everything",
        system="prompt",
        model="m",
        temperature=2.0,
        top_p=0.5,
        max_tokens=300,
        stop=("END", "###"),
        greeting="hello",
        context_window=8192,
        cache=True,
        overflow="summarize",
        provider="local",
        source=str(path),
    )


def test_single_stop_string_becomes_a_tuple(tmp_path: Path) -> None:
    path = write(tmp_path, '[personas.a]\nsystem = "s"\nstop = "\\n\\n"\n')
    assert load_personas(builtin=False, extra_files=[path]).get("a").stop == ("\n\n",)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes('\ufeff[personas.a]\nsystem = "日本語"\n'.encode())
    assert load_personas(builtin=False, extra_files=[path]).get("a").system == "日本語"


# --- validation --------------------------------------------------------------

BAD_FILES = [
    pytest.param('[personas.a]\nsystem = "x"\ntemperature = \n', "line 3", id="toml-syntax"),
    pytest.param(
        '[personas.a]\nsystem = "x"\ntemprature = 1\n',
        "unknown key 'temprature' (did you mean 'temperature'? allowed: cache, context_window",
        id="unknown-key",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\ntemperature = "hot"\n',
        "temperature must be a number, got string",
        id="temperature-type",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\ntemperature = true\n',
        "temperature must be a number, got boolean",
        id="bool-is-not-a-number",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\ntemperature = 2.5\n',
        "temperature must be between 0 and 2, got 2.5",
        id="temperature-range",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\ntemperature = nan\n',
        "temperature must be between 0 and 2, got nan",
        id="temperature-nan",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\ntop_p = 1.5\n',
        "top_p must be between 0 and 1, got 1.5",
        id="top-p-range",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\nmax_tokens = 0\n',
        "max_tokens must be a positive integer",
        id="max-tokens-zero",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\nmax_tokens = 100.0\n',
        "max_tokens must be a positive integer, got float",
        id="max-tokens-float",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\ncontext_window = -4096\n',
        "context_window must be a positive integer",
        id="context-window-negative",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\nmax_tokens = true\n',
        "max_tokens must be a positive integer, got boolean",
        id="max-tokens-bool",
    ),
    pytest.param('[personas.a]\nsystem = "   "\n', "system prompt is empty", id="empty-system"),
    pytest.param("[personas.a]\nsystem = 3\n", "system must be a string, got integer", id="system"),
    pytest.param(
        '[personas.a]\nsystem = "x"\nstop = ["a", "b", "c", "d", "e"]\n',
        "stop must be a non-empty string or a list of 1 to 4",
        id="too-many-stops",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\ncache = "yes"\n',
        "cache must be true or false, got string",
        id="cache-type",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\noverflow = "truncate"\n',
        "overflow must be one of: drop, summarize",
        id="overflow-choice",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\nprovider = "remote"\n',
        "provider must be one of: local",
        id="provider-choice",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\ndescription = "two\\nlines"\n',
        "description must be one line",
        id="description-newline",
    ),
    pytest.param(
        '[personas.a]\nsystem = "x"\ngreeting = "\\u001b[2J"\n',
        "greeting must not contain control characters",
        id="greeting-escape",
    ),
    pytest.param(
        '[personas]\na = "x"\n', "persona 'a' must be a table, got string", id="not-table"
    ),
    pytest.param('personas = ["a"]\n', "'personas' must be a table", id="personas-not-table"),
    pytest.param(
        '[[personas]]\nsystem = "x"\n', "'personas' must be a table", id="array-of-tables"
    ),
    pytest.param(
        '[pirate]\nsystem = "x"\n',
        "unknown top-level key 'pirate' (each persona goes in a [personas.NAME] table)",
        id="top-level-table",
    ),
    pytest.param(
        '[personas."Bad Name"]\nsystem = "x"\n', "invalid persona name 'Bad Name'", id="name"
    ),
    pytest.param('[personas."-x"]\nsystem = "x"\n', "invalid persona name '-x'", id="name-dash"),
    pytest.param(
        '[personas."a\\nb"]\nsystem = "x"\n', "invalid persona name 'a\\nb'", id="name-newline"
    ),
    pytest.param(
        '[personas.a]\nsystem = { text = { deeper = { deepest = "x" } } }\n',
        "system must be a string, got table",
        id="nested-table",
    ),
    pytest.param(
        "[personas.a.system.b.c.d.e.f]\nx = 1\n",
        "system must be a string, got table",
        id="nested-headers",
    ),
    pytest.param(
        "[personas.a]\nsystem = " + "[" * 5000 + "]" * 5000 + "\n",
        "nested too deeply",
        id="deep-arrays",
    ),
    pytest.param(
        "[personas.a]\nsystem = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n",
        "nested too deeply",
        id="deep-inline-tables",
    ),
    pytest.param(
        "[personas.a]\nmax_tokens = " + "9" * 5000 + "\n", "invalid TOML", id="huge-integer"
    ),
]


@pytest.mark.parametrize(("text", "hint"), BAD_FILES)
def test_bad_files_give_one_line_naming_the_file_and_the_fix(
    tmp_path: Path, text: str, hint: str
) -> None:
    assert hint in load_error(write(tmp_path, text))


def test_bad_user_file_is_reported_too(tmp_path: Path) -> None:
    user = write(tmp_path, "[personas.a]\nsystem = \n")
    with pytest.raises(PersonaError, match="invalid TOML at line 2"):
        load_personas(user_file=user)


def test_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[personas.a]\nsystem = "café"\n'.encode("latin-1"))
    assert "not UTF-8" in load_error(path)


def test_directory_is_not_a_personas_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert "is a directory" in load_error(folder)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[personas.a]\nsystem = "x"\n')
    path.chmod(0)
    try:
        assert "cannot read" in load_error(path)
    finally:
        path.chmod(0o600)


def test_file_just_over_the_limit_is_too_large(tmp_path: Path) -> None:
    path = write(tmp_path, "#" * (MAX_FILE_BYTES + 1))
    assert "too large" in load_error(path)


def test_file_at_the_limit_is_read(tmp_path: Path) -> None:
    body = '[personas.a]\nsystem = "x"\n'
    path = write(tmp_path, body + "#" * (MAX_FILE_BYTES - len(body) - 1) + "\n")
    assert load_personas(builtin=False, extra_files=[path]).names() == ["a"]


def test_ten_megabyte_file_is_rejected_quickly(tmp_path: Path) -> None:
    path = write(tmp_path, '[personas.a]\nsystem = """' + "x" * 10_000_000 + '"""\n')
    started = time.monotonic()
    assert "too large" in load_error(path)
    assert time.monotonic() - started < 1.0


# --- the book ------------------------------------------------------------------


def test_unknown_name_lists_the_available_ones() -> None:
    book = load_personas()
    with pytest.raises(PersonaError) as info:
        book.get("it-suport")
    assert str(info.value) == f"unknown persona 'it-suport' (available: {', '.join(SHIPPED)})"


def test_lookup_ignores_case_and_surrounding_space() -> None:
    book = load_personas()
    assert book.get(" IT-Support ").name == "it-support"
    assert "Japanese-Teacher" in book
    assert "nobody" not in book


def test_iteration_and_listing_follow_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, '[personas.zed]\nsystem = "z"\n[personas.alpha]\nsystem = "a"\n')
    book = load_personas(builtin=False, extra_files=[path])
    assert [p.name for p in book] == ["zed", "alpha"]
    assert format_persona_list(book) == [("zed", ""), ("alpha", "")]


def test_ad_hoc_persona_for_slash_system() -> None:
    book = load_personas()
    custom = book.ad_hoc("  You are terse.  ")
    assert (custom.name, custom.system) == ("custom", "You are terse.")
    assert "custom" not in book  # /system does not add to the book


def test_ad_hoc_keeps_the_current_personas_settings_but_not_its_greeting() -> None:
    base = Persona(name="b", description="d", system="s", model="m", temperature=0.2, greeting="hi")
    custom = PersonaBook().ad_hoc("new prompt", base=base)
    assert (custom.model, custom.temperature, custom.greeting) == ("m", 0.2, None)
    assert custom.system == "new prompt"


def test_ad_hoc_with_empty_text_is_an_error() -> None:
    with pytest.raises(PersonaError, match="empty"):
        PersonaBook().ad_hoc("   ")


# --- properties ------------------------------------------------------------------

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def load_or_error(path: Path) -> PersonaBook | None:
    """Load ``path``; a PersonaError must be one line naming the file. Anything else fails."""
    try:
        return load_personas(builtin=False, extra_files=[path])
    except PersonaError as exc:
        assert "\n" not in str(exc)
        assert str(path) in str(exc)
        return None


@FUZZ
@given(text=st.text())
def test_any_text_gives_a_book_or_a_persona_error(tmp_path: Path, text: str) -> None:
    load_or_error(write(tmp_path, text))


@FUZZ
@given(data=st.binary())
def test_any_bytes_give_a_book_or_a_persona_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bytes.toml"
    path.write_bytes(data)
    load_or_error(path)


def toml_string(text: str) -> str:
    escaped = "".join(
        "\\" + ch
        if ch in '"\\'
        else f"\\u{ord(ch):04x}"
        if ord(ch) < 0x20 or ord(ch) == 0x7F
        else ch
        for ch in text
    )
    return f'"{escaped}"'


KEYS = [
    "description", "system", "model", "temperature", "top_p", "max_tokens", "stop",
    "greeting", "context_window", "cache", "overflow", "provider", "name", "source", "System",
]  # fmt: skip
SCALARS = st.one_of(
    st.text(max_size=20).map(toml_string),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "true", "false", "1979-05-27", "07:32:00", '"drop"']),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5).map(lambda items: "[" + ", ".join(items) + "]"),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3).map(
            lambda table: "{" + ", ".join(f"{k} = {v}" for k, v in table.items()) + "}"
        ),
    ),
    max_leaves=12,
)
NAMES = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True),
    st.text(max_size=12).map(toml_string),
)
HEADERS = st.one_of(
    NAMES.map(lambda name: f"[personas.{name}]"),
    NAMES.map(lambda name: f"[{name}]"),
    st.just("[personas]"),
    st.just("[[personas]]"),
    NAMES.map(lambda name: f"[personas.{name}.system]"),
)
ASSIGNMENTS = st.dictionaries(st.one_of(st.sampled_from(KEYS), NAMES), VALUES, max_size=6)
SECTIONS = st.tuples(HEADERS, ASSIGNMENTS).map(
    lambda section: "\n".join([section[0], *(f"{k} = {v}" for k, v in section[1].items())])
)


@st.composite
def toml_like_documents(draw: st.DrawFn) -> str:
    """Well-formed sections, sometimes with one stray line, so validation is exercised too."""
    chunks = draw(st.lists(SECTIONS, max_size=5))
    if draw(st.booleans()):
        chunks.insert(draw(st.integers(0, len(chunks))), draw(st.text(max_size=10)))
    return "\n".join(chunks) + "\n"


@FUZZ
@given(document=toml_like_documents())
def test_toml_like_documents_give_a_book_or_a_persona_error(tmp_path: Path, document: str) -> None:
    load_or_error(write(tmp_path, document))


VALID_PERSONA = st.fixed_dictionaries(
    {"system": st.text(min_size=1).filter(str.strip)},
    optional={
        "description": st.text().filter(str.isprintable),
        "temperature": st.floats(min_value=0, max_value=2),
        "top_p": st.floats(min_value=0, max_value=1),
        "max_tokens": st.integers(min_value=1, max_value=1_000_000),
        "stop": st.lists(st.text(min_size=1), min_size=1, max_size=4),
        "cache": st.booleans(),
        "overflow": st.sampled_from(["drop", "summarize"]),
    },
)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return repr(value)


@FUZZ
@given(
    personas=st.dictionaries(
        st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True), VALID_PERSONA, max_size=4
    )
)
def test_valid_personas_load_with_the_values_written(
    tmp_path: Path, personas: dict[str, dict[str, object]]
) -> None:
    text = "".join(
        f"[personas.{name}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items())
        for name, table in personas.items()
    )
    book = load_personas(builtin=False, extra_files=[write(tmp_path, text)])
    assert book.names() == list(personas)
    for name, table in personas.items():
        persona = book.get(name)
        assert persona.system == str(table["system"]).strip()
        assert persona.description == str(table.get("description", "")).strip()
        stop = table.get("stop")
        assert persona.stop == (tuple(stop) if isinstance(stop, list) else None)
        for key in ("max_tokens", "cache", "overflow"):
            assert getattr(persona, key) == table.get(
                key, Persona.__dataclass_fields__[key].default
            )
        for key in ("temperature", "top_p"):
            expected = table.get(key)
            actual = getattr(persona, key)
            assert (actual is None) == (expected is None)
            if isinstance(expected, float) and actual is not None:
                assert math.isclose(actual, expected)


def test_on_the_local_model_personas_take_its_tuned_settings_and_yours_still_win(
    tmp_path: Path,
) -> None:
    hosted = load_personas().get("casual-friend")
    local = load_personas(local=True).get("casual-friend")
    assert (local.temperature, local.max_tokens) == (0, 256)
    assert local.system != hosted.system and len(local.system) < 120
    assert local.description == hosted.description  # only the tuned keys change

    mine = tmp_path / "personas.toml"
    mine.write_text('[personas.casual-friend]\ntemperature = 0.7\nsystem = "Be fun."\n')
    chosen = load_personas(local=True, user_file=mine).get("casual-friend")
    assert (chosen.temperature, chosen.system, chosen.max_tokens) == (0.7, "Be fun.", 256)
