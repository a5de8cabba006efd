"""Case 8: the web chat — many browsers at once, time to the page, bytes to the page.

``chatbot serve`` runs against the bench server. First, ``web_clients`` clients each
ask for one reply of about ``web_reply_seconds`` at once, exactly as the page asks (one
streamed POST per turn, newline-delimited JSON), with the server's own turn limit:
how many it admits and refuses, the admitted streams' time to the first rendered
text and to the end, how fast a refusal comes, and the server's memory; then the same
crowd with no limit, for what the limit saves. Then, in a real headless Chromium when
one is installed, the time from the model server's first byte to the text on the
page. Last, the bytes the page receives per reply token against the terminal's.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.harness import Bench, spec_question
from bench.report import format_bytes, format_ratio, print_table, print_title

__all__ = ["case_web"]

_FIRST_TEXT = (b'"t":"block"', b'"t":"tail"')


@dataclass
class _Served:
    process: subprocess.Popen[str]
    origin: str
    cookie: str

    def rss(self) -> int:
        """The server process's resident memory, in bytes."""
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0


@contextmanager
def _serve(bench: Bench, *, limited: bool = True) -> Iterator[_Served]:
    """``chatbot serve`` with its own turn limit, or (``limited=False``) with none."""
    env = {
        **bench.env,
        "OPENAI_BASE_URL": bench.server.base_url,
        "PORT": "0",
        # Every client here is one signed-in user: only the limit for all applies.
        "CHATBOT_WEB_MAX_TURNS_PER_USER": "100000",
        "CHATBOT_TOOLS": "0",
    }
    if not limited:
        env["CHATBOT_WEB_MAX_TURNS"] = "100000"
    process = subprocess.Popen(
        [*bench.chatbot, "serve"],
        env=env,
        cwd=bench.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    match = re.search(r"(http://[^/\s]+)/\?token=(\S+)", process.stdout.readline())
    if match is None:
        process.terminate()
        raise RuntimeError("chatbot serve printed no URL")
    origin, token = match.groups()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(f"{origin}/?token={token}", timeout=10)
    except urllib.error.HTTPError as exc:  # the 303 that sets the cookie
        cookie = exc.headers["set-cookie"].split(";")[0]
    try:
        yield _Served(process=process, origin=origin, cookie=cookie)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _get(served: _Served, path: str) -> Any:
    request = urllib.request.Request(served.origin + path, headers={"cookie": served.cookie})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


@dataclass(frozen=True)
class _Turn:
    #: Seconds to the first text event (nan when refused), and to the end.
    first: float
    total: float
    received: int
    refused: bool = False


async def _turn(served: _Served, chat: str, question: str) -> _Turn:
    """One page-style turn, as the page sends it; a 429 is a refusal, not a failure."""
    host = served.origin.removeprefix("http://")
    name, port = host.rsplit(":", 1)
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(name, int(port))
    body = json.dumps({"chat": chat, "action": "send", "text": question}).encode()
    writer.write(
        (
            f"POST /api/turns HTTP/1.1\r\nHost: {host}\r\nCookie: {served.cookie}\r\n"
            f"Origin: {served.origin}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        + body
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    if b" 429 " in status_line:
        await reader.read()
        writer.close()
        return _Turn(float("nan"), time.monotonic() - started, 0, refused=True)
    if b" 200 " not in status_line:
        raise RuntimeError(f"turn refused: {head[:80]!r}")
    first = None
    received = 0
    seen = b""
    while True:
        size_line = await reader.readline()
        size = int(size_line.strip() or b"0", 16)
        if size == 0:
            break
        chunk = await reader.readexactly(size + 2)
        received += size
        if first is None:
            seen = (seen + chunk)[-4096:]
            if any(marker in seen for marker in _FIRST_TEXT):
                first = time.monotonic() - started
    writer.close()
    first_text = first if first is not None else float("nan")
    return _Turn(first_text, time.monotonic() - started, received)


def _ms_or_none(seconds: float) -> str:
    return "none" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _concurrent(bench: Bench, served: _Served) -> dict[str, Any]:
    sizes = bench.sizes
    clients = sizes.web_clients
    # ~4 characters a token, one token a chunk: the delay that makes a reply last so long.
    delay = sizes.web_reply_seconds / sizes.web_reply_tokens
    question = spec_question(sizes.web_reply_tokens, chunk_chars=4, delay=delay)
    chats = [_get(served, "/api/state")["status"]["chat"] for _ in range(clients)]
    peak = [served.rss()]
    before = peak[0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            peak[0] = max(peak[0], served.rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    async def all_turns() -> list[_Turn]:
        return await asyncio.gather(*(_turn(served, chat, question) for chat in chats))

    started = time.monotonic()
    results = asyncio.run(all_turns())
    wall = time.monotonic() - started
    stop.set()
    sampler.join()
    served_turns = [r for r in results if not r.refused]
    firsts = [r.first for r in served_turns]
    return {
        "clients": clients,
        "admitted": len(served_turns),
        "completed": sum(1 for r in served_turns if r.received > 0),
        "refused": len(results) - len(served_turns),
        "refused_p95": _quantile([r.total for r in results if r.refused], 0.95),
        "first_p50": _quantile(firsts, 0.5),
        "first_p95": _quantile(firsts, 0.95),
        # The admitted streams all started together: the last of them to end.
        "wall": max((r.total for r in served_turns), default=wall),
        "reply_seconds": sizes.web_reply_seconds,
        "rss_before": before,
        "rss_peak": peak[0],
    }


def _bytes_per_token(bench: Bench, served: _Served) -> dict[str, Any]:
    tokens = bench.sizes.render_tokens[0]
    question = spec_question(tokens, chunk_chars=4, delay=0.0005)
    chat = _get(served, "/api/state")["status"]["chat"]
    page = asyncio.run(_turn(served, chat, question)).received
    terminal = bench.pty([*bench.chatbot, "--markdown", question]).out_bytes
    return {"tokens": tokens, "page_bytes": page, "terminal_bytes": terminal}


def _to_the_page(bench: Bench, served: _Served) -> dict[str, Any] | None:
    """Server's first byte → text on the page, and last byte → page complete (Chromium)."""
    if not (shutil.which("chromium") and os.path.exists("/usr/bin/chromedriver")):
        return None
    from tests.support.browser import start_browser

    tokens = bench.sizes.paced_tokens
    delay = 1.0 / bench.sizes.paced_rate
    question = spec_question(tokens, chunk_chars=4, delay=delay)
    browser = start_browser()
    firsts, lasts = [], []
    try:
        token = _get(served, "/api/state")  # warm the engine: models listed once
        del token
        for _ in range(bench.sizes.web_page_runs):
            browser.driver.delete_all_cookies()
            browser.driver.get(served.origin + "/")
            name, value = served.cookie.split("=", 1)
            browser.driver.add_cookie({"name": name, "value": value, "sameSite": "Strict"})
            browser.driver.get(served.origin + "/")
            browser.js(
                """window.__seen = {first: 0, last: 0, length: 0};
                new MutationObserver(() => {
                  const node = document.querySelector('[data-role="assistant"]');
                  if (!node) return;
                  const length = [...node.querySelectorAll('.reply')]
                    .reduce((n, r) => n + r.textContent.length, 0);
                  if (!length || length === window.__seen.length) return;
                  const now = performance.timeOrigin + performance.now();
                  if (!window.__seen.first) window.__seen.first = now;
                  window.__seen.last = now;
                  window.__seen.length = length;
                }).observe(document.getElementById('messages'),
                           {childList: true, subtree: true, characterData: true});"""
            )
            bench.server.forget_streams()
            offset = time.time() - time.monotonic()
            box = browser.driver.find_element("css selector", 'textarea[aria-label="Message"]')
            box.send_keys(question + "\n")
            first, last = bench.server.next_stream(timeout=bench.sizes.timeout)
            deadline = time.monotonic() + 30
            while browser.js("return document.getElementById('stop') !== null"):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            seen = browser.js("return window.__seen")
            firsts.append(seen["first"] / 1000 - (first + offset))
            lasts.append(seen["last"] / 1000 - (last + offset))
    finally:
        browser.close()
    return {
        "tokens": tokens,
        "first": statistics.median(firsts),
        "last": statistics.median(lasts),
        "runs": len(firsts),
    }


def case_web(bench: Bench) -> None:
    """8. The web chat: concurrent streams, time to the page, bytes to the page."""
    sizes = bench.sizes
    print_title(
        f"8. Web chat: {sizes.web_clients} browser-style streams of "
        f"~{sizes.web_reply_seconds:g} s at once; first byte to the page; bytes per token"
    )
    with _serve(bench) as served:
        crowd = _concurrent(bench, served)
        page = _to_the_page(bench, served)
        weight = _bytes_per_token(bench, served)
    # The same crowd with no limit: what the limit saves everyone from.
    with _serve(bench, limited=False) as served:
        unlimited = _concurrent(bench, served)
    growth = crowd["rss_peak"] - crowd["rss_before"]
    rows = [
        [
            "streams admitted / refused at once",
            f"{crowd['admitted']} / {crowd['refused']} of {crowd['clients']}",
        ],
        ["admitted: completed", f"{crowd['completed']}/{crowd['admitted']}"],
        ["admitted: first text, p50", f"{crowd['first_p50'] * 1000:.0f} ms"],
        ["admitted: first text, p95", f"{crowd['first_p95'] * 1000:.0f} ms"],
        [
            "admitted: all done (one reply lasts)",
            f"{crowd['wall']:.2f} s ({crowd['reply_seconds']:g} s)",
        ],
        ["refused: the 429 line, p95", _ms_or_none(crowd["refused_p95"])],
        [
            "server memory",
            f"{format_bytes(crowd['rss_before'])} -> {format_bytes(crowd['rss_peak'])}",
        ],
        [
            f"no limit: all {unlimited['clients']}, first text p50 / p95",
            f"{unlimited['first_p50'] * 1000:.0f} / {unlimited['first_p95'] * 1000:.0f} ms",
        ],
        [f"no limit: all {unlimited['clients']}, all done", f"{unlimited['wall']:.2f} s"],
    ]
    if page is not None:
        rows += [
            ["model's first byte -> text on page", f"{page['first'] * 1000:.0f} ms"],
            ["model's last byte -> page complete", f"{page['last'] * 1000:.0f} ms"],
        ]
    page_per_token = weight["page_bytes"] / weight["tokens"]
    terminal_per_token = weight["terminal_bytes"] / weight["tokens"]
    rows += [
        ["page bytes per reply token", f"{page_per_token:.1f} B"],
        ["terminal bytes per reply token", f"{terminal_per_token:.1f} B"],
    ]
    print_table(["measure", "value"], rows)
    bench.report.figures["web"] = {
        "crowd": crowd,
        "unlimited": unlimited,
        "page": page,
        "bytes": weight,
    }
    bench.report.check(
        "web",
        target="every stream admitted and completed, or refused within 1 s",
        measured=(
            f"{crowd['completed']} completed, {crowd['refused']} refused "
            f"(p95 {_ms_or_none(crowd['refused_p95'])})"
        ),
        passed=crowd["completed"] + crowd["refused"] == crowd["clients"]
        and (math.isnan(crowd["refused_p95"]) or crowd["refused_p95"] < 1.0),
    )
    bench.report.check(
        "web",
        target="admitted: first text p95 < 1 s with every stream open",
        measured=f"{crowd['first_p95'] * 1000:.0f} ms",
        passed=crowd["first_p95"] < 1.0,
    )
    bench.report.check(
        "web",
        target="admitted: all done within 1.5x one reply's length",
        measured=f"{crowd['wall'] / crowd['reply_seconds']:.2f}x",
        passed=crowd["wall"] <= 1.5 * crowd["reply_seconds"] + 1.0,
    )
    bench.report.check(
        "web",
        target="server memory grows < 150 MB",
        measured=format_bytes(growth),
        passed=growth < 150 * 1024 * 1024,
    )
    if page is not None:
        bench.report.check(
            "web",
            target="model's first byte -> text on page < 0.3 s",
            measured=f"{page['first'] * 1000:.0f} ms",
            passed=page["first"] < 0.3,
        )
    bench.report.check(
        "web",
        target="page bytes per token <= the terminal's",
        measured=format_ratio(page_per_token / terminal_per_token),
        passed=page_per_token <= terminal_per_token,
    )
