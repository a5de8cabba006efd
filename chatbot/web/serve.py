"""``chatbot serve``: check the credential, open the engine, print the URL, serve.

A bind beyond loopback without a credential is refused before anything starts
(exit 2). ``PORT`` from the environment is honoured when ``--port`` is not given,
as cloud hosts set it.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from chatbot.engine.plan import RunRequest
from chatbot.errors import ConfigError
from chatbot.settings.limits import WEB_TURNS, WEB_TURNS_PER_USER
from chatbot.settings.paths import AppPaths, ensure_private_dir

if TYPE_CHECKING:
    from chatbot.web.credentials import Credentials
    from chatbot.web.engine_link import WebEngine


from chatbot.i18n import _

__all__ = ["DEFAULT_PORT", "ServeOptions", "run_serve", "serve_port"]

DEFAULT_PORT = 8000


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int | None = None
    users: Path | None = None
    hash_password: bool = False
    #: What the engine is asked for: the chat's settings flags and persona files.
    request: RunRequest = field(default_factory=RunRequest)


def serve_port(flag: int | None, environ: Mapping[str, str]) -> int:
    """``--port``, else ``PORT`` (cloud hosts set it), else 8000."""
    if flag is not None:
        return flag
    raw = environ.get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or int(raw) > 65535:
        raise ConfigError(
            _("PORT must be a port number from 0 to 65535, got {value}").format(value=repr(raw))
        )
    return int(raw)


def _count(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            _("{name} must be a whole number of at least 1, got {value}").format(
                name=name, value=repr(raw)
            )
        )
    return int(raw)


def _read_password(stdin: TextIO, stderr: TextIO) -> str:
    if stdin.isatty():
        import getpass

        first = getpass.getpass(_("password: "), stream=stderr)
        if getpass.getpass(_("again: "), stream=stderr) != first:
            raise ConfigError(_("the two passwords differ"))
        password = first
    else:
        password = stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise ConfigError(_("a password needs at least 8 characters"))
    return password


def run_serve(
    options: ServeOptions,
    *,
    environ: Mapping[str, str],
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Serve until Ctrl-C or SIGTERM; returns the exit status."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    from chatbot.web.credentials import credentials_for, hash_password, is_loopback

    if options.hash_password:
        password = _read_password(stdin or sys.stdin, err)
        print(f"NAME:{hash_password(password)}", file=out)
        return 0
    port = serve_port(options.port, environ)
    credentials = credentials_for(host=options.host, environ=environ, users_file=options.users)
    loopback = is_loopback(options.host)
    limits = (
        _count(environ, "CHATBOT_WEB_MAX_TURNS", WEB_TURNS),
        _count(environ, "CHATBOT_WEB_MAX_TURNS_PER_USER", WEB_TURNS_PER_USER),
    )
    paths = AppPaths.from_env(environ)
    try:
        import uvicorn  # noqa: F401
        from starlette.applications import Starlette  # noqa: F401
    except ImportError:
        raise ConfigError(
            _("chatbot serve needs the 'web' extra: pip install 'chatbot[web]'")
        ) from None
    ensure_private_dir(paths.data_dir)
    from chatbot.web.engine_link import open_engine

    engine = open_engine(
        options.request,
        environ=environ,
        paths=paths,
        warn=lambda line: print(line, file=err, flush=True),
    )
    try:
        return _serve(
            engine,
            credentials=credentials,
            host=options.host,
            port=port,
            loopback=loopback,
            limits=limits,
            environ=environ,
            stdout=out,
        )
    finally:
        engine.close()


def _serve(
    engine: WebEngine,
    *,
    credentials: Credentials,
    host: str,
    port: int,
    loopback: bool,
    limits: tuple[int, int],
    environ: Mapping[str, str],
    stdout: TextIO,
) -> int:
    import uvicorn

    from chatbot.web.access_log import ACCESS_LOG_NAME, AccessLog
    from chatbot.web.bridge import TurnLimits
    from chatbot.web.context import WebContext
    from chatbot.web.session_cookie import SessionSigner
    from chatbot.web.site import build_site
    from chatbot.web.workspaces import Workspaces

    listening = _listen(host, port)
    data_dir = engine.paths.data_dir
    workspaces = Workspaces(
        engine=engine,
        per_user_stores=credentials.kind == "users",
        # The shell tool runs commands on this machine: never for a page served beyond it.
        allow_shell=loopback,
    )
    context = WebContext(
        engine=engine,
        workspaces=workspaces,
        credentials=credentials,
        signer=SessionSigner(secret=environ.get("CHATBOT_WEB_SECRET") or None),
        limits=TurnLimits(total=limits[0], per_user=limits[1]),
        loopback=loopback,
    )
    access_log = AccessLog(data_dir / ACCESS_LOG_NAME)
    origins = frozenset(
        o.strip().rstrip("/")
        for o in (
            environ.get("CHATBOT_WEB_ORIGIN", "") + "," + environ.get("RENDER_EXTERNAL_URL", "")
        ).split(",")
        if o.strip()
    )
    site = build_site(context, access_log=access_log, origins=origins)
    config = uvicorn.Config(
        site,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # Behind a cloud host's proxy the client's scheme and address come in headers.
        proxy_headers=not loopback,
        forwarded_allow_ips="*" if not loopback else None,
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    print(_banner(host, listening.getsockname()[1], credentials), file=stdout, flush=True)

    async def main() -> None:
        await server.serve(sockets=[listening])

    try:
        asyncio.run(main())
    finally:
        context.turns.stop_all()
        workspaces.close()
        access_log.close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: a port in use is one line, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            _("cannot listen on {host}:{port}: {reason}").format(
                host=host, port=port, reason=(exc.strerror or str(exc)).lower()
            )
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _banner(host: str, port: int, credentials: Credentials) -> str:
    """The one line to open: with the sign-in token on loopback."""
    shown = host
    if host in ("0.0.0.0", "::", ""):
        shown = socket.gethostname() or "127.0.0.1"
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}/"
    if credentials.kind == "link":
        url += f"?token={credentials.token}"
        how = _("open it to chat (the link signs you in; Ctrl-C stops the server)")
    elif credentials.kind == "token":
        how = _("sign in with CHATBOT_WEB_TOKEN (Ctrl-C stops the server)")
    else:
        how = _("sign in as one of {count} users (Ctrl-C stops the server)").format(
            count=len(credentials.users)
        )
    return _("chatbot: web chat on {url} — {how}").format(url=url, how=how)
