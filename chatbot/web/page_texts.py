"""Every word the web page shows, in one catalogue: English, and Japanese by the browser.

The page's HTML is written with these, and the script gets the same table (as a
JSON data block, never executed) for what it adds while the chat runs. They are
translated by the program's gettext catalogue (``chatbot/locale``), in the language
of the browser's ``Accept-Language`` (Japanese for ``ja``, else English), whatever
language the server itself speaks.
"""

from __future__ import annotations

from chatbot.i18n import LANGUAGES, N_, translator

__all__ = ["language_for", "page_texts"]

_EN: dict[str, str] = {
    "title": N_("chatbot"),
    "message": N_("Message"),
    "placeholder": N_("Message (Enter sends, Shift+Enter for a new line)"),
    "send": N_("Send"),
    "stop": N_("Stop"),
    "attach": N_("Attach files"),
    "new_chat": N_("New chat"),
    "conversations": N_("Conversations"),
    "search": N_("Search conversations"),
    "persona": N_("Persona"),
    "model": N_("Model"),
    "rename": N_("Rename"),
    "delete": N_("Delete"),
    "export_md": N_("Export Markdown"),
    "export_json": N_("Export JSON"),
    "confirm_delete": N_("Delete this conversation? This cannot be undone."),
    "rename_prompt": N_("New title:"),
    "retry": N_("Regenerate"),
    "continue": N_("Continue"),
    "edit": N_("Edit"),
    "save_edit": N_("Send edited message"),
    "cancel": N_("Cancel"),
    "copy": N_("Copy"),
    "copied": N_("Copied"),
    "copy_code": N_("Copy code"),
    "you": N_("You"),
    "assistant": N_("Assistant"),
    "thinking": N_("Thinking…"),
    "thought": N_("Thought"),
    "tool_wants": N_("The model wants to run a tool"),
    "tool_shell": N_("The model wants to run this shell command"),
    "run": N_("Run"),
    "deny": N_("Deny"),
    "always": N_("Always"),
    "stopped": N_("Stopped: what arrived is kept."),
    "kept": N_("Your message is kept: Regenerate sends it again."),
    "images": N_("Your message is kept: pick a vision model, then Regenerate."),
    "too_large": N_("Nothing was sent: shorten the message or remove files."),
    "dropped": N_(
        "{count} oldest turn(s) no longer fit the context and were left out of the request."
    ),
    "compacted": N_(
        "Summarised {count} older turn(s) to fit the context (the originals stay stored)."
    ),
    "retrying": N_("Retrying in {seconds} s ({attempt}/{attempts}): {reason}"),
    "context": N_("context"),
    "session_tokens": N_("tokens"),
    "no_conversations": N_("No conversations yet."),
    "drop_files": N_("Drop files to attach them"),
    "remove": N_("Remove"),
    "sign_in": N_("Sign in"),
    "sign_in_link": N_("Open the link that chatbot serve printed in the terminal to sign in."),
    "token": N_("Access token"),
    "user": N_("User name"),
    "password": N_("Password"),
    "sign_in_failed": N_("That did not work. Check and try again."),
    "sign_out": N_("Sign out"),
    "help": N_(
        "Enter sends, Shift+Enter adds a line. Drop or paste files to attach them. "
        "Conversations are saved and shared with the terminal: chatbot --session ID "
        "continues one there."
    ),
    "menu": N_("Menu"),
    "busy": N_("A reply is still streaming."),
    "network": N_("The connection to the chat server was lost."),
    "empty_reply": N_("(no text)"),
}


def language_for(accept_language: str) -> str:
    """The first language of ``Accept-Language`` that the page speaks; English otherwise."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower().split("-")[0]))
    for _, _, tag in sorted(ranked):
        if tag in LANGUAGES:
            return tag
    return "en"


def page_texts(language: str) -> dict[str, str]:
    """Every page text in ``language``, from the program's own catalogue."""
    translate = translator(language)
    return {key: translate(text) for key, text in _EN.items()}
