"""The stored conversations in the browser: list, search, open, rename, delete, export;
and files attached to the next message.

They are the store's own, in the user's store file: a conversation begun in the
terminal is here, and ``chatbot sessions`` lists those begun here.
"""

from __future__ import annotations

import json
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatbot.errors import AttachmentError, StoreError
from chatbot.i18n import _
from chatbot.web.chat_routes import error, json_body, user_of
from chatbot.web.context import WebContext
from chatbot.web.history_view import message_views
from chatbot.web.workspaces import NotFound, Workspace

__all__ = ["conversation_routes"]

_LIST_LIMIT = 50


def _conversation_id(request: Request) -> int:
    raw = str(request.path_params["id"])
    if not raw.isdigit():
        raise NotFound(raw)
    return int(raw)


def conversation_routes(context: WebContext) -> list[Route]:
    def workspace(request: Request) -> Workspace:
        return context.workspaces.for_user(user_of(request))

    async def listing(request: Request) -> Response:
        store = workspace(request).store
        search = request.query_params.get("search", "").strip()
        if search:
            result = await run_in_threadpool(store.search_conversations, search, limit=_LIST_LIMIT)
            rows = [(hit.info, hit.snippet) for hit in result.hits]
        else:
            infos = await run_in_threadpool(store.list_conversations, limit=_LIST_LIMIT)
            rows = [(info, None) for info in infos]
        return JSONResponse(
            {
                "conversations": [
                    {
                        "id": info.id,
                        "title": info.title or "",
                        "persona": info.persona,
                        "model": info.model,
                        "updated": info.updated_at,
                        "turns": info.turns,
                        "snippet": snippet,
                    }
                    for info, snippet in rows
                ]
            },
            headers={"cache-control": "no-store"},
        )

    async def opened(request: Request) -> Response:
        place = workspace(request)
        try:
            number = _conversation_id(request)
            stored = await run_in_threadpool(
                place.store.load_conversation, number, window_tokens=None
            )
            chat = await run_in_threadpool(place.chat, str(number))
        except (NotFound, StoreError):
            return error(404, _("no such conversation"))
        return JSONResponse(
            {
                "title": stored.info.title or "",
                "messages": message_views(stored.messages),
                "status": chat.status(),
            },
            headers={"cache-control": "no-store"},
        )

    async def renamed(request: Request) -> Response:
        place = workspace(request)
        try:
            number = _conversation_id(request)
            body = await json_body(request)
            title = body.get("title")
            if not isinstance(title, str):
                raise ValueError(_("title must be a string"))
            await run_in_threadpool(place.store.rename_conversation, number, title)
        except ValueError as exc:
            return error(400, str(exc))
        except NotFound:
            return error(404, _("no such conversation"))
        except StoreError as exc:
            found = "no conversation" in str(exc)
            return error(404 if found else 400, _("no such conversation") if found else str(exc))
        return JSONResponse({"ok": True})

    async def deleted(request: Request) -> Response:
        place = workspace(request)
        try:
            number = _conversation_id(request)
            await run_in_threadpool(place.store.delete_conversation, number)
        except (NotFound, StoreError):
            return error(404, _("no such conversation"))
        place.forget(number)
        return JSONResponse({"ok": True})

    async def exported(request: Request) -> Response:
        from chatbot.store.export import to_json, to_markdown

        place = workspace(request)
        kind = request.query_params.get("format", "md")
        try:
            number = _conversation_id(request)
            stored = await run_in_threadpool(
                place.store.load_conversation, number, window_tokens=None
            )
        except (NotFound, StoreError):
            return error(404, _("no such conversation"))
        if kind == "json":
            body = json.dumps(to_json(stored), ensure_ascii=False, indent=1)
            media, suffix = "application/json", "json"
        else:
            body, media, suffix = to_markdown(stored), "text/markdown; charset=utf-8", "md"
        return Response(
            body,
            media_type=media,
            headers={
                "content-disposition": f'attachment; filename="conversation-{number}.{suffix}"',
                "cache-control": "no-store",
            },
        )

    async def attach(request: Request) -> Response:
        from chatbot.conversation.compose import attach_data

        place = workspace(request)
        name = request.query_params.get("name", "").strip() or "pasted"
        name = name.replace("/", "_").replace("\\", "_")[:200]
        try:
            chat = await run_in_threadpool(place.chat, request.query_params.get("chat", ""))
        except NotFound:
            return error(404, _("no such conversation"))
        data = await request.body()
        try:
            attached = await run_in_threadpool(attach_data, name, data, session=chat.session)
        except AttachmentError as exc:
            return error(400, context.redact(str(exc)))
        key = secrets.token_urlsafe(8)
        chat.pending[key] = attached
        return JSONResponse({"id": key, "line": attached.line(), "status": chat.status()})

    async def detach(request: Request) -> Response:
        place = workspace(request)
        try:
            chat = await run_in_threadpool(place.chat, request.query_params.get("chat", ""))
        except NotFound:
            return error(404, _("no such conversation"))
        chat.pending.pop(request.query_params.get("id", ""), None)
        return JSONResponse({"status": chat.status()})

    return [
        Route("/api/conversations", listing, methods=["GET"]),
        Route("/api/conversations/{id}", opened, methods=["GET"]),
        Route("/api/conversations/{id}", renamed, methods=["PATCH"]),
        Route("/api/conversations/{id}", deleted, methods=["DELETE"]),
        Route("/api/conversations/{id}/export", exported, methods=["GET"]),
        Route("/api/attachments", attach, methods=["POST"]),
        Route("/api/attachments", detach, methods=["DELETE"]),
    ]
