"""Every word the web page shows, in one catalogue: English, and Japanese by the browser.

The page's HTML is written with these, and the script gets the same table (as a
JSON data block, never executed) for what it adds while the chat runs. The
language follows the browser's ``Accept-Language``: Japanese for ``ja``, else English.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LANGUAGES", "language_for", "page_texts"]

LANGUAGES = ("en", "ja")

_EN: dict[str, str] = {
    "title": "chatbot",
    "message": "Message",
    "placeholder": "Message (Enter sends, Shift+Enter for a new line)",
    "send": "Send",
    "stop": "Stop",
    "attach": "Attach files",
    "new_chat": "New chat",
    "conversations": "Conversations",
    "search": "Search conversations",
    "persona": "Persona",
    "model": "Model",
    "rename": "Rename",
    "delete": "Delete",
    "export_md": "Export Markdown",
    "export_json": "Export JSON",
    "confirm_delete": "Delete this conversation? This cannot be undone.",
    "rename_prompt": "New title:",
    "retry": "Regenerate",
    "continue": "Continue",
    "edit": "Edit",
    "save_edit": "Send edited message",
    "cancel": "Cancel",
    "copy": "Copy",
    "copied": "Copied",
    "copy_code": "Copy code",
    "you": "You",
    "assistant": "Assistant",
    "thinking": "Thinking…",
    "thought": "Thought",
    "tool_wants": "The model wants to run a tool",
    "tool_shell": "The model wants to run this shell command",
    "run": "Run",
    "deny": "Deny",
    "always": "Always",
    "stopped": "Stopped: what arrived is kept.",
    "kept": "Your message is kept: Regenerate sends it again.",
    "images": "Your message is kept: pick a vision model, then Regenerate.",
    "too_large": "Nothing was sent: shorten the message or remove files.",
    "dropped": (
        "{count} oldest turn(s) no longer fit the context and were left out of the request."
    ),
    "compacted": (
        "Summarised {count} older turn(s) to fit the context (the originals stay stored)."
    ),
    "retrying": "Retrying in {seconds} s ({attempt}/{attempts}): {reason}",
    "context": "context",
    "session_tokens": "tokens",
    "no_conversations": "No conversations yet.",
    "drop_files": "Drop files to attach them",
    "remove": "Remove",
    "sign_in": "Sign in",
    "sign_in_link": "Open the link that chatbot serve printed in the terminal to sign in.",
    "token": "Access token",
    "user": "User name",
    "password": "Password",
    "sign_in_failed": "That did not work. Check and try again.",
    "sign_out": "Sign out",
    "help": (
        "Enter sends, Shift+Enter adds a line. Drop or paste files to attach them. "
        "Conversations are saved and shared with the terminal: chatbot --session ID "
        "continues one there."
    ),
    "menu": "Menu",
    "busy": "A reply is still streaming.",
    "network": "The connection to the chat server was lost.",
    "empty_reply": "(no text)",
}

_JA: dict[str, str] = {
    "title": "chatbot",
    "message": "メッセージ",
    "placeholder": "メッセージ(Enter で送信、Shift+Enter で改行)",
    "send": "送信",
    "stop": "停止",
    "attach": "ファイルを添付",
    "new_chat": "新しいチャット",
    "conversations": "会話",
    "search": "会話を検索",
    "persona": "ペルソナ",
    "model": "モデル",
    "rename": "名前を変更",
    "delete": "削除",
    "export_md": "Markdown で書き出す",
    "export_json": "JSON で書き出す",
    "confirm_delete": "この会話を削除しますか?元に戻せません。",
    "rename_prompt": "新しいタイトル:",
    "retry": "再生成",
    "continue": "続きを生成",
    "edit": "編集",
    "save_edit": "編集したメッセージを送信",
    "cancel": "キャンセル",
    "copy": "コピー",
    "copied": "コピーしました",
    "copy_code": "コードをコピー",
    "you": "あなた",
    "assistant": "アシスタント",
    "thinking": "考えています…",
    "thought": "思考",
    "tool_wants": "モデルがツールの実行を求めています",
    "tool_shell": "モデルがこのシェルコマンドの実行を求めています",
    "run": "実行",
    "deny": "拒否",
    "always": "常に許可",
    "stopped": "停止しました。届いた部分は残してあります。",
    "kept": "メッセージは残してあります。「再生成」でもう一度送信できます。",
    "images": (
        "メッセージは残してあります。画像に対応したモデルを選んでから「再生成」してください。"
    ),
    "too_large": ("何も送信していません。メッセージを短くするか、ファイルを外してください。"),
    "dropped": (
        "古いやり取り {count} 件がコンテキストに収まらないため、リクエストから外しました。"
    ),
    "compacted": (
        "古いやり取り {count} 件を要約してコンテキストに収めました(元の内容は保存されています)。"
    ),
    "retrying": "{seconds} 秒後に再試行します({attempt}/{attempts}):{reason}",
    "context": "コンテキスト",
    "session_tokens": "トークン",
    "no_conversations": "まだ会話はありません。",
    "drop_files": "ここにファイルをドロップすると添付します",
    "remove": "外す",
    "sign_in": "サインイン",
    "sign_in_link": (
        "サインインするには、chatbot serve がターミナルに表示したリンクを開いてください。"
    ),
    "token": "アクセストークン",
    "user": "ユーザー名",
    "password": "パスワード",
    "sign_in_failed": "サインインできませんでした。入力内容を確認して、もう一度お試しください。",
    "sign_out": "サインアウト",
    "help": (
        "Enter で送信、Shift+Enter で改行します。ファイルはドロップまたは貼り付けで添付できます。"
        "会話は保存され、ターミナルと共有されます。"
        "chatbot --session ID でターミナルから続きを話せます。"
    ),
    "menu": "メニュー",
    "busy": "まだ返答を受信しています。",
    "network": "チャットサーバーとの接続が切れました。",
    "empty_reply": "(テキストなし)",
}

_CATALOGUES: Mapping[str, Mapping[str, str]] = {"en": _EN, "ja": _JA}


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
        if tag in _CATALOGUES:
            return tag
    return "en"


def page_texts(language: str) -> dict[str, str]:
    """Every page text in ``language`` (English for anything missing)."""
    return {**_EN, **_CATALOGUES.get(language, {})}
