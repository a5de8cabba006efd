"""The chat's endpoints: sign-in, the chat's state and settings, and turns.

A turn is one streamed POST: its response is the reply's events as
newline-delimited JSON, and it ends with the turn. Nothing stays open between turns
(no EventSource per tab). Stop and the tool buttons are small POSTs naming the turn.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from chatbot.errors import ChatbotError
from chatbot.i18n import _
from chatbot.web.bridge import EventChannel
from chatbot.web.context import WebContext
from chatbot.web.live_chat import LiveChat
from chatbot.web.session_cookie import COOKIE_NAME
from chatbot.web.turn import WebTurn
from chatbot.web.turn_runner import (
    Action,
    continue_reply,
    edit_last,
    regenerate,
    send,
    start_turn,
    turn_request,
)
from chatbot.web.workspaces import NotFound

__all__ = ["chat_routes", "error", "json_body", "user_of"]

_FAILED_SIGN_INS: list[float] = []
#: Failed sign-ins allowed per minute, server-wide, before every attempt waits.
_SIGN_IN_BUDGET = 20


def error(status: int, text: str) -> JSONResponse:
    return JSONResponse({"error": text}, status_code=status, headers={"cache-control": "no-store"})


def user_of(request: Request) -> str:
    user = request.state.user
    assert isinstance(user, str)
    return user


async def json_body(request: Request) -> Mapping[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ValueError(_("the request body is not JSON")) from None
    if not isinstance(body, dict):
        raise ValueError(_("the request body must be a JSON object"))
    return body


def chat_routes(context: WebContext) -> list[Route]:
    async def sign_in(request: Request) -> Response:
        try:
            body = await json_body(request)
        except ValueError as exc:
            return error(400, str(exc))
        now = time.monotonic()
        _FAILED_SIGN_INS[:] = [t for t in _FAILED_SIGN_INS if now - t < 60]
        if len(_FAILED_SIGN_INS) >= _SIGN_IN_BUDGET:
            return error(429, _("too many failed sign-ins; wait a minute"))
        credentials = context.credentials
        token, name, password = (str(body.get(k, "")) for k in ("token", "user", "password"))
        if credentials.kind == "users":
            user = await run_in_threadpool(
                credentials.user_for_password, name.strip().lower(), password
            )
        else:
            user = credentials.user_for_token(token)
        if user is None:
            _FAILED_SIGN_INS.append(now)
            await asyncio.sleep(0.5)
            return error(401, _("wrong credentials"))
        secure = request.headers.get("x-forwarded-proto", "") == "https"
        response = JSONResponse({"user": user})
        response.headers["set-cookie"] = context.signer.header(user, secure=secure)
        return response

    async def sign_out(request: Request) -> Response:
        response = JSONResponse({"ok": True})
        response.headers["set-cookie"] = (
            f"{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
        )
        return response

    async def state(request: Request) -> Response:
        user = user_of(request)
        workspace = context.workspaces.for_user(user)
        key = request.query_params.get("chat", "")
        try:
            chat = await run_in_threadpool(workspace.chat, key) if key else workspace.new_chat()
        except NotFound:
            chat = workspace.new_chat()
        engine = context.engine
        models = await run_in_threadpool(engine.models)
        return JSONResponse(
            {
                "user": user,
                "signin": context.credentials.kind,
                "personas": [{"name": p.name, "description": p.description} for p in engine.book],
                "models": models,
                "status": chat.status(),
            },
            headers={"cache-control": "no-store"},
        )

    async def settings(request: Request) -> Response:
        try:
            body = await json_body(request)
            chat = await _chat(request, str(request.path_params["chat"]))
        except ValueError as exc:
            return error(400, str(exc))
        except NotFound:
            return error(404, _("no such conversation"))
        if chat.turn is not None:
            return error(409, _("a reply is still streaming: stop it first"))
        session = chat.session
        engine = context.engine
        try:
            if isinstance(body.get("persona"), str):
                session.switch_persona(engine.book.get(str(body["persona"])))
            if isinstance(body.get("model"), str) and body["model"].strip():
                # The server decides what switching takes (a restart of our llama.cpp).
                model = await run_in_threadpool(
                    engine.switch_model, str(body["model"]).strip(), notify=chat.notify
                )
                session.set_model(model)
        except ChatbotError as exc:
            return error(400, context.redact(str(exc)))
        return JSONResponse({"status": chat.status(), "greeting": session.persona.greeting})

    async def turn(request: Request) -> Response:
        user = user_of(request)
        try:
            body = await json_body(request)
            action_name, text, ids = turn_request(body)
        except ValueError as exc:
            return error(400, str(exc))
        # Refused before anything costly (a chat closed while idle is opened again):
        # when the server is full, saying so must not take a share of what is left.
        reason = context.limits.acquire(user)
        if reason is not None:
            return error(429, reason)
        try:
            chat = await _chat(request, str(body.get("chat", "")))
        except NotFound:
            context.limits.release(user)
            return error(404, _("no such conversation"))
        except BaseException:
            context.limits.release(user)
            raise
        channel = EventChannel(asyncio.get_running_loop())
        running = WebTurn(user=user, emit=channel.emit)
        if not chat.begin(running):
            context.limits.release(user)
            return error(409, _("a reply is still streaming in this conversation"))
        try:
            action = _action(chat, action_name, text, ids)
        except ChatbotError as exc:
            chat.end(running)
            context.limits.release(user)
            return error(400, context.redact(str(exc)))
        workspace = context.workspaces.for_user(user)
        context.turns.add(running)

        def finished() -> None:
            context.limits.release(user)
            context.turns.remove(running)
            workspace.known(chat)
            channel.close()

        channel.emit({"t": "start", "turn": running.id, "chat": chat.key})
        start_turn(chat, running, action, redact=context.redact, on_end=finished)

        async def lines() -> AsyncIterator[bytes]:
            try:
                async for chunk in channel.lines():
                    yield chunk
            finally:
                # The page went away mid-reply (tab closed, reload): stop the model too.
                running.stop()

        return StreamingResponse(
            lines(),
            media_type="application/x-ndjson",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def stop(request: Request) -> Response:
        found = context.turns.find(str(request.path_params["turn"]), user=user_of(request))
        if found is None:
            return error(404, _("that reply is not streaming"))
        found.stop()
        return JSONResponse({"ok": True})

    async def answer(request: Request) -> Response:
        found = context.turns.find(str(request.path_params["turn"]), user=user_of(request))
        if found is None:
            return error(404, _("that reply is not streaming"))
        try:
            body = await json_body(request)
        except ValueError as exc:
            return error(400, str(exc))
        if not found.answer(str(body.get("verdict", ""))):
            return error(409, _("nothing is waiting for an answer"))
        return JSONResponse({"ok": True})

    async def _chat(request: Request, key: str) -> LiveChat:
        workspace = context.workspaces.for_user(user_of(request))
        if not key:
            raise NotFound(key)
        return await run_in_threadpool(workspace.chat, key)

    def _action(chat: LiveChat, name: str, text: str, ids: list[str]) -> Action:
        if name == "retry":
            return regenerate(chat)
        if name == "continue":
            return continue_reply(chat)
        if not text.strip() and not ids:
            raise ChatbotError(_("nothing to send: the message is empty"))
        if name == "edit":
            return edit_last(chat, text)
        missing = [i for i in ids if i not in chat.pending]
        if missing:
            raise ChatbotError(_("an attached file is no longer waiting: attach it again"))
        return send(chat, text, ids)

    return [
        Route("/api/login", sign_in, methods=["POST"]),
        Route("/api/logout", sign_out, methods=["POST"]),
        Route("/api/state", state, methods=["GET"]),
        Route("/api/chats/{chat}/settings", settings, methods=["POST"]),
        Route("/api/turns", turn, methods=["POST"]),
        Route("/api/turns/{turn}/stop", stop, methods=["POST"]),
        Route("/api/turns/{turn}/answer", answer, methods=["POST"]),
    ]
