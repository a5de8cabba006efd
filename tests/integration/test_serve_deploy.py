"""The deploy path of ``chatbot serve``: what a cloud host or a container relies on.

``PORT`` from the environment, a refusal (one line, exit 2) to open the chat beyond
loopback without a credential, ``/healthz``, and the Docker image, which is built
only where a Docker engine runs.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.support.browser import serve_chat
from tests.support.fakeserver import FakeOpenAIServer
from tests.support.helpers import assert_one_line_error, chatbot_executable, scrubbed_environment

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = scrubbed_environment(home)
    environment.update(OPENAI_API_KEY="sk-test-SECRETKEY-0123456789", **env)
    return subprocess.run(
        [chatbot_executable(), "serve", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_port_from_the_environment_is_honoured_and_healthz_answers(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    port = _free_port()
    with serve_chat(tmp_path, base_url=server.base_url, env={"PORT": str(port)}) as served:
        assert served.origin == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(served.origin + "/healthz", timeout=10) as answer:
            assert json.loads(answer.read()) == {"ok": True, "turns": 0}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])
def test_an_open_bind_without_a_credential_is_refused(tmp_path: Path, host: str) -> None:
    done = _serve(tmp_path, "--host", host, "--port", "0")
    line = assert_one_line_error(done, status=2)
    assert "needs a credential" in line and "CHATBOT_WEB_TOKEN" in line
    assert done.stdout == ""


def test_a_short_token_and_a_bad_port_are_one_line_each(tmp_path: Path) -> None:
    done = _serve(tmp_path, "--host", "0.0.0.0", CHATBOT_WEB_TOKEN="short")
    assert "too short" in assert_one_line_error(done, status=2)
    done = _serve(tmp_path, PORT="eighty")
    assert "PORT must be a port number" in assert_one_line_error(done, status=2)


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        done = _serve(tmp_path, "--port", str(taken.getsockname()[1]))
    assert "cannot listen on 127.0.0.1" in assert_one_line_error(done, status=2)


def test_the_banner_never_prints_a_configured_token(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    token = "a-long-team-token-0123456789"
    with serve_chat(
        tmp_path,
        base_url=server.base_url,
        args=["--host", "127.0.0.1"],
        env={"CHATBOT_WEB_TOKEN": token},
    ) as served:
        assert token not in served.url
        request = urllib.request.Request(
            served.origin + "/api/login",
            data=json.dumps({"token": token}).encode(),
            headers={"content-type": "application/json", "origin": served.origin},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert "HttpOnly" in answer.headers["set-cookie"]


def _docker_engine() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return "the docker command is not installed"
    probe = subprocess.run([docker, "info"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return "no Docker engine is running here (docker info failed)"
    return None


def test_the_docker_image_builds_and_serves(tmp_path: Path) -> None:
    reason = _docker_engine()
    if reason is not None:
        pytest.skip(reason)
    subprocess.run(
        ["docker", "build", "-t", "chatbot-web-test", str(ROOT)], check=True, timeout=900
    )
    done = subprocess.run(
        ["docker", "run", "--rm", "chatbot-web-test"], capture_output=True, text=True, timeout=120
    )
    # No credential configured: the container refuses to open the chat, in one line.
    assert done.returncode == 2
    assert "needs a credential" in done.stderr


def test_render_blueprint_mounts_a_disk_on_the_store_and_checks_health() -> None:
    blueprint = (ROOT / "render.yaml").read_text(encoding="utf-8")
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "healthCheckPath: /healthz" in blueprint and "mountPath: /data" in blueprint
    assert "CHATBOT_DATA_DIR=/data" in dockerfile
    assert '"serve", "--host", "0.0.0.0"' in dockerfile
