"""A real headless Chromium for the web chat's tests, and the served chat it drives.

Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them), driven by
selenium through ``/usr/bin/chromedriver``. One browser serves a whole test module;
every request the page makes is recorded (Chrome's performance log), and a listener
installed before any page script counts Content-Security-Policy violations.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import chatbot_executable, scrubbed_environment

__all__ = [
    "CHROMEDRIVER",
    "Browser",
    "ServedChat",
    "serve_chat",
    "start_browser",
    "wait_for",
]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# Installed before any script of any page: counts the policy's refusals.
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def wait_for(check: Callable[[], Any], *, timeout: float = 10.0, what: str = "the page") -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # a stale element while the page changes
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


class Browser:
    """A selenium Chrome session with helpers for what the tests look at."""

    def __init__(self, driver: Any, profile: Path) -> None:
        self.driver = driver
        self.profile = profile

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def requests(self) -> list[str]:
        """URLs the page asked for since the last call (the performance log drains)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def csp_violations(self) -> list[str]:
        found = self.driver.execute_script("return window.__cspViolations || []")
        console = [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if "Content Security Policy" in entry["message"]
        ]
        return [*found, *console]

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def fetch(self, path: str, *, method: str = "GET", body: Any = None) -> tuple[int, str]:
        """A same-origin fetch from the page, as its own script would make it."""
        return tuple(  # type: ignore[return-value]
            self.driver.execute_async_script(
                """
                const [path, method, body, done] = arguments;
                const options = {method, headers: {'content-type': 'application/json'}};
                if (body !== null) options.body = JSON.stringify(body);
                fetch(path, options).then(async (r) => done([r.status, await r.text()]))
                  .catch((e) => done([0, String(e)]));
                """,
                path,
                method,
                body,
            )
        )


def start_browser(*, width: int = 1200, height: int = 900, language: str = "en-US") -> Browser:
    """Chromium with a fresh profile; skips only when not in CI and it is not installed."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver must be installed in CI (.ci/run does)")
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install ...)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="chatbot-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in _FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--lang={language}")
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(15)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _WATCH_CSP})
    driver.execute_cdp_cmd("Network.enable", {})
    return Browser(driver, profile)


class ServedChat:
    """A ``chatbot serve`` process: its URL, its home, and how to stop it."""

    def __init__(self, process: subprocess.Popen[str], url: str, home: Path) -> None:
        self.process = process
        self.url = url
        self.home = home
        match = re.match(r"(https?://[^/]+)/", url)
        assert match is not None
        self.origin = match.group(1)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def stop(self) -> str:
        """Stop the server (SIGTERM, as a host does); returns what it wrote on stderr."""
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err


@contextmanager
def serve_chat(
    home: Path,
    *,
    base_url: str,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[ServedChat]:
    """Run the installed ``chatbot serve`` on a free loopback port until the block ends."""
    environment = scrubbed_environment(home)
    environment.update(
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="sk-test-SECRETKEY-0123456789",
        PORT="0",
    )
    environment.update(env or {})
    process = subprocess.Popen(
        [chatbot_executable(), "serve", *args],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=home,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"(http://\S+)", line)
    if match is None:
        err = process.communicate(timeout=10)[1]
        pytest.fail(f"chatbot serve printed no URL: {line!r} {err!r}")
    served = ServedChat(process, match.group(1), home)
    try:
        yield served
    finally:
        served.stop()
