"""The web chat as one ASGI application: the routes behind the guard.

Starlette under uvicorn, because on this 2-core machine it held 200 and 1,000
clients streaming at once in one thread, where Flask and waitress set-ups did not
(issue 20's measurements; BENCHMARKS.md has ours).
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chatbot.web.access_log import AccessLog
from chatbot.web.chat_routes import chat_routes
from chatbot.web.context import WebContext
from chatbot.web.conversation_routes import conversation_routes
from chatbot.web.guard import Guard, GuardSettings
from chatbot.web.page import chat_page, sign_in_page
from chatbot.web.reply_html import code_stylesheet

__all__ = ["STATIC_DIR", "build_site"]

STATIC_DIR = Path(__file__).parent / "static"


def build_site(
    context: WebContext,
    *,
    access_log: AccessLog | None,
    origins: frozenset[str] = frozenset(),
) -> Guard:
    """The application: every route, guarded."""

    async def page(request: Request) -> Response:
        return HTMLResponse(
            chat_page(request.headers.get("accept-language", "")),
            headers={"cache-control": "no-store"},
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "turns": context.limits.running})

    async def code_css(request: Request) -> Response:
        return Response(code_stylesheet(), media_type="text/css")

    app = Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/healthz", health, methods=["GET"]),
            Route("/static/code.css", code_css, methods=["GET"]),
            *chat_routes(context),
            *conversation_routes(context),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    )
    kind = context.credentials.kind
    return Guard(
        app,
        GuardSettings(
            credentials=context.credentials,
            signer=context.signer,
            access_log=access_log,
            loopback=context.loopback,
            origins=origins,
            sign_in_page=lambda accept: sign_in_page(accept, kind=kind),
        ),
    )
