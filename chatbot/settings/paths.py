"""Where the chatbot keeps its configuration and data.

Both folders can be moved with ``CHATBOT_CONFIG_DIR`` and ``CHATBOT_DATA_DIR``
(tests always do), so nothing ever has to touch the real home directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chatbot.errors import ConfigError
from chatbot.i18n import _

__all__ = [
    "STORE_FILE_NAME",
    "AppPaths",
    "ensure_private_dir",
    "open_private",
    "private_file",
    "write_private",
]

#: The conversation store inside the data folder.
STORE_FILE_NAME = "conversations.sqlite3"

APP_NAME = "chatbot"


@dataclass(frozen=True, kw_only=True, slots=True)
class AppPaths:
    """The user's config and data folders and the files inside them."""

    config_dir: Path
    data_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppPaths:
        """Environment overrides first, then the platform's conventional folders."""
        env = os.environ if environ is None else environ
        config = env.get("CHATBOT_CONFIG_DIR")
        data = env.get("CHATBOT_DATA_DIR")
        if config is None or data is None:
            # platformdirs is only imported when a folder is not overridden.
            import platformdirs

            config = config or str(platformdirs.user_config_path(APP_NAME))
            data = data or str(platformdirs.user_data_path(APP_NAME))
        return cls(config_dir=Path(config).expanduser(), data_dir=Path(data).expanduser())

    @property
    def user_personas(self) -> Path:
        return self.config_dir / "personas.toml"

    @property
    def user_dotenv(self) -> Path:
        return self.config_dir / ".env"

    @property
    def user_config(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def input_history(self) -> Path:
        return self.data_dir / "input-history"

    @property
    def store(self) -> Path:
        return self.data_dir / STORE_FILE_NAME

    @property
    def debug_log(self) -> Path:
        return self.data_dir / "debug.log"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the owner only, if missing."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            _("cannot create the folder {path}: {value}").format(
                path=path, value=exc.strerror or exc
            )
        ) from None
    return path


def open_private(path: Path, *, truncate: bool = False, exclusive: bool = False) -> int:
    """Open ``path`` for writing as the owner's alone (0600), its folder made 0700.

    The one writer of private files (history, logs, exports, the store):
    ``O_CREAT``'s mode applies only to a new file, so an existing one is
    narrowed too. Returns a file descriptor; ``exclusive`` raises
    FileExistsError for an existing file instead of opening it.
    """
    ensure_private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND)
    if exclusive:
        flags |= os.O_EXCL
    fd = os.open(path, flags, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    except OSError:
        os.close(fd)
        raise
    return fd


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists with mode 0600 before anything writes to it."""
    try:
        os.close(open_private(path))
    except OSError as exc:
        raise ConfigError(
            _("cannot create {path}: {value}").format(path=path, value=exc.strerror or exc)
        ) from None
    return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path``'s content with ``text``, the file private (0600)."""
    try:
        with os.fdopen(open_private(path, truncate=True), "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise ConfigError(
            _("cannot write {path}: {value}").format(path=path, value=exc.strerror or exc)
        ) from None
