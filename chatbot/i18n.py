"""The language the program speaks: ``_()`` and ``ngettext()`` over the shipped catalogues.

Every line shown to a person goes through :func:`_` (or :func:`ngettext` when it
counts something). Messages are English in the source; a compiled gettext
catalogue (``chatbot/locale/LANG/LC_MESSAGES/chatbot.mo``, built from the ``.po``
beside it) supplies the translation. Placeholders are ``str.format`` fields with
names, so a translation can put them in any order::

    _("removed {count} messages").format(count=n)

The language is chosen once per run (:func:`choose_language`, :func:`set_language`);
a front end serving many readers speaks each one's within a context of its own
(:func:`speaking`: a web request, a turn's thread). A catalogue is read at the first
message that needs it, never at import, and English needs no catalogue at all.
Strings defined at import time are marked with :func:`N_` and translated where
they are shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gettext import NullTranslations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "_",
    "choose_language",
    "current_language",
    "gettext",
    "language_of",
    "ngettext",
    "or_list",
    "parse_answer",
    "quote",
    "set_language",
    "speaking",
    "translator",
]

#: The languages the program speaks; the first is the one in the source.
LANGUAGES = ("en", "ja")
DEFAULT_LANGUAGE = "en"
#: The gettext domain: the catalogue's file name.
DOMAIN = "chatbot"
LOCALE_DIR = Path(__file__).parent / "locale"

#: The locale variables, in the order POSIX consults them for messages.
_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

_lock = threading.Lock()
_language = DEFAULT_LANGUAGE
#: The loaded catalogue of ``_language``; None until a message needs it.
_catalogue: NullTranslations | None = None
#: The language of the reader this context answers (:func:`speaking`), over the run's.
_reader: ContextVar[str | None] = ContextVar("chatbot_reader_language", default=None)


def language_of(value: str | None) -> str | None:
    """The language a setting or locale name means (``ja_JP.UTF-8`` → "ja"), or None.

    "C", "POSIX" and languages we do not speak mean None: the caller falls back.
    """
    if not value:
        return None
    code = value.strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_").split("_", 1)[0]
    code = code.lower()
    return code if code in LANGUAGES else None


def choose_language(environ: Mapping[str, str], *, configured: str | None = None) -> str:
    """The language for this run: ``CHATBOT_LANG``, else ``configured``, else the locale.

    ``configured`` is ``language`` from ``config.toml``. The locale is the first
    non-empty of ``LC_ALL``, ``LC_MESSAGES`` and ``LANG``, as for any program.
    A set value we do not speak (``fr_FR``, ``C``) means English, not the next one.
    """
    override = environ.get("CHATBOT_LANG", "").strip()
    if override:
        return language_of(override) or DEFAULT_LANGUAGE
    if configured:
        return language_of(configured) or DEFAULT_LANGUAGE
    for name in _LOCALE_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return language_of(value) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def set_language(language: str) -> None:
    """Speak ``language`` ("en" or "ja") from now on; its catalogue loads when first needed."""
    global _language, _catalogue
    chosen = language if language in LANGUAGES else DEFAULT_LANGUAGE
    with _lock:
        if chosen != _language:
            _language, _catalogue = chosen, None


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Speak ``language`` within this context only, whatever the run speaks.

    For a front end answering each reader in their own language (the web chat, by
    the browser's): a context variable, so concurrent requests never mix, and a
    thread started with a copy of the context (a web turn's) keeps it.
    """
    token = _reader.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _reader.reset(token)


def current_language() -> str:
    """The language messages come out in here: this context's reader's, else the run's."""
    return _reader.get() or _language


def _translations() -> NullTranslations | None:
    """The catalogue of the current language, loaded once; None for the source language."""
    global _catalogue
    reader = _reader.get()
    if reader is not None:
        return None if reader == DEFAULT_LANGUAGE else _catalogue_of(reader)
    if _language == DEFAULT_LANGUAGE:
        return None
    catalogue = _catalogue
    if catalogue is not None:
        return catalogue
    with _lock:
        if _catalogue is None:
            _catalogue = _read_catalogue(_language)
        return _catalogue


def _read_catalogue(language: str) -> NullTranslations:
    """The shipped catalogue of ``language``; a missing or unreadable one means English."""
    import gettext as stdlib_gettext

    # Our one file, opened directly: gettext.translation() would search the
    # locale's variants and copy the result, for nothing.
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    try:
        with path.open("rb") as handle:
            return stdlib_gettext.GNUTranslations(handle)
    except Exception:  # a damaged file (bad magic, cut short) is no catalogue
        return stdlib_gettext.NullTranslations()


def gettext(message: str) -> str:
    """``message`` in the current language (itself when there is no translation)."""
    catalogue = _translations()
    return message if catalogue is None else catalogue.gettext(message)


#: The conventional short name, so extraction tools and readers recognise it.
_ = gettext


_others: dict[str, NullTranslations] = {}


def _catalogue_of(language: str) -> NullTranslations:
    """The catalogue of ``language``, loaded once, apart from the run's own."""
    with _lock:
        catalogue = _others.get(language)
        if catalogue is None:
            catalogue = _read_catalogue(language)
            _others[language] = catalogue
    return catalogue


def translator(language: str) -> Callable[[str], str]:
    """``_`` for ``language``, whatever this run speaks (the web page's own texts)."""
    if language not in LANGUAGES or language == DEFAULT_LANGUAGE:
        return lambda message: message
    return _catalogue_of(language).gettext


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a counted message for ``count``; format ``{count}`` in afterwards."""
    catalogue = _translations()
    if catalogue is None:
        return singular if count == 1 else plural
    return catalogue.ngettext(singular, plural, count)


def quote(text: str) -> str:
    """A name or title quoted the way the language does: ``'notes'``, or 「notes」.

    Escapes stay visible either way (a newline shows as ``\\n``), as ``repr`` shows them.
    """
    shown = repr(text)
    return f"「{shown[1:-1]}」" if current_language() == "ja" else shown


def or_list(words: Sequence[str]) -> str:
    """ "show, fold or hide": alternatives joined the way the language lists them."""
    if len(words) <= 1:
        return "".join(words)
    return _("{items} or {last}").format(items=_(", ").join(words[:-1]), last=words[-1])


#: What a yes/no(/always) question accepts: the English words and letters in every
#: language, and はい/いいえ, which cannot be mistaken for one another.
_ANSWERS = {
    "y": "yes",
    "yes": "yes",
    "はい": "yes",
    "n": "no",
    "no": "no",
    "いいえ": "no",
    "a": "always",
    "always": "always",
}


def parse_answer(typed: str) -> str | None:
    """ "yes", "no" or "always" for what was typed at a question; None for anything else.

    Full-width letters (typed with a Japanese input method on) count as the
    letters they look like.
    """
    import unicodedata

    return _ANSWERS.get(unicodedata.normalize("NFKC", typed).strip().lower())


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it yet (import-time text)."""
    return message
