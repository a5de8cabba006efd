"""The chat page and the sign-in page, written in the browser's language.

Static markup only: every dynamic thing is added by ``chat.js`` through the DOM.
The texts travel to the script in a JSON data block, which the browser never runs.
"""

from __future__ import annotations

import json
from html import escape

from chatbot.web.page_texts import language_for, page_texts

__all__ = ["chat_page", "sign_in_page"]


def _head(language: str, texts: dict[str, str], script: str) -> str:
    # "<" inside the JSON cannot end the data block: it is written as \u003c.
    data = json.dumps(texts, ensure_ascii=False).replace("<", "\\u003c")
    return (
        "<!doctype html>\n"
        f'<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{escape(texts['title'])}</title>\n"
        '<link rel="icon" href="/static/icon.svg" type="image/svg+xml">\n'
        '<link rel="stylesheet" href="/static/chat.css">\n'
        '<link rel="stylesheet" href="/static/code.css">\n'
        f'<script type="application/json" id="texts">{data}</script>\n'
        f'<script src="/static/{script}" defer></script>\n'
        "</head>\n"
    )


def chat_page(accept_language: str) -> str:
    """The chat: conversation list, pickers, messages, and the message box."""
    language = language_for(accept_language)
    t = {key: escape(value) for key, value in page_texts(language).items()}
    return (
        _head(language, page_texts(language), "chat.js")
        + f"""<body>
<div class="layout">
<aside id="sidebar" aria-label="{t["conversations"]}">
<button type="button" id="new-chat" class="wide">{t["new_chat"]}</button>
<input type="search" id="search" aria-label="{t["search"]}" placeholder="{t["search"]}">
<ul id="conversation-list"></ul>
<p id="no-conversations" class="muted">{t["no_conversations"]}</p>
<button type="button" id="sign-out" class="quiet" hidden>{t["sign_out"]}</button>
</aside>
<main>
<header class="bar">
<button type="button" id="menu" aria-label="{t["menu"]}" aria-controls="sidebar"
 aria-expanded="false">☰</button>
<label class="picker">{t["persona"]} <select id="persona" aria-label="Persona"></select></label>
<label class="picker">{t["model"]} <select id="model" aria-label="Model"></select></label>
<span id="status" role="status"></span>
</header>
<section id="messages" aria-live="polite"></section>
<div id="notices" role="status"></div>
<form id="composer" autocomplete="off">
<div id="attachments"></div>
<div class="row">
<button type="button" id="attach" aria-label="{t["attach"]}" title="{t["attach"]}">+</button>
<input type="file" id="file" multiple hidden>
<textarea id="input" aria-label="Message" rows="2" placeholder="{t["placeholder"]}"></textarea>
<span id="actions"><button type="submit" id="send" aria-label="Send">{t["send"]}</button></span>
</div>
<p class="help muted">{t["help"]}</p>
</form>
<div id="drop" hidden>{t["drop_files"]}</div>
</main>
</div>
</body>
</html>
"""
    )


def sign_in_page(accept_language: str, *, kind: str) -> str:
    """What a browser without the cookie sees (with status 401)."""
    language = language_for(accept_language)
    t = {key: escape(value) for key, value in page_texts(language).items()}
    if kind == "link":
        form = f"<p>{t['sign_in_link']}</p>"
    else:
        fields = (
            f'<label>{t["user"]} <input name="user" autocomplete="username" required></label>'
            f'<label>{t["password"]} <input name="password" type="password" '
            'autocomplete="current-password" required></label>'
            if kind == "users"
            else f'<label>{t["token"]} <input name="token" type="password" required></label>'
        )
        form = (
            f'<form id="sign-in" class="sign-in">{fields}'
            f'<button type="submit">{t["sign_in"]}</button>'
            f'<p id="sign-in-error" class="error" hidden>{t["sign_in_failed"]}</p></form>'
        )
    return (
        _head(language, page_texts(language), "sign-in.js")
        + f'<body class="narrow"><main><h1>{t["sign_in"]}</h1>{form}</main></body>\n</html>\n'
    )
