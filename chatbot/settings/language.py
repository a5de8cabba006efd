"""Which language this run speaks: ``CHATBOT_LANG``, ``config.toml``, then the locale.

Decided once, before the command line is parsed (``--help`` is translated too),
from what is cheap to read: the environment, the ``.env`` files only when there
are any, and the ``language`` key of ``config.toml``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from chatbot.errors import ConfigError
from chatbot.i18n import choose_language
from chatbot.settings.paths import AppPaths

__all__ = ["language_for"]


def language_for(environ: Mapping[str, str], *, paths: AppPaths) -> str:
    """The language code for a run with ``environ`` and the user's folders ``paths``."""
    env = environ
    if not environ.get("CHATBOT_LANG"):
        from chatbot.settings.config import default_dotenv_files, load_environment

        files = [path for path in default_dotenv_files(paths.config_dir) if path.is_file()]
        if files:
            # A broken .env is reported, in the chosen language, when the run reads it.
            with contextlib.suppress(ConfigError):
                env, _ = load_environment(environ=environ, dotenv_files=files)
    from chatbot.settings.user_config import configured_language

    return choose_language(env, configured=configured_language(paths.user_config))
