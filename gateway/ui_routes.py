"""The operator console and the supervisor wallboard: pages and static files served by the gateway.

Pages live outside /api, so the auth middleware does not guard them: each page looks the
session cookie up itself and sends a stranger to /login.
"""
from __future__ import annotations

from aiohttp import web

from crm_store import users
from gateway.auth import COOKIE
from gateway.keys import CLOCK, SESSIONS
from operator_ui import SIGNED_IN_PAGES, page_path, static_dir

routes = web.RouteTableDef()

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self' ws: wss:; media-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
}


async def _signed_in(request: web.Request) -> bool:
    token = request.cookies.get(COOKIE)
    if not token:
        return False
    async with request.app[SESSIONS]() as session:
        return await users.user_for_token(session, token, request.app[CLOCK]()) is not None


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(page_path(name), headers={**PAGE_HEADERS, "Content-Type": "text/html; charset=utf-8"})


async def _guarded(request: web.Request, name: str) -> web.StreamResponse:
    if not await _signed_in(request):
        target = "/login" if name == "console" else f"/login?next=/{name}"
        raise web.HTTPSeeOther(target, headers={"Cache-Control": "no-store"})
    return _page(name)


@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    if await _signed_in(request):
        raise web.HTTPSeeOther("/console")
    return _page("login")


@routes.get("/")
async def root(request: web.Request) -> web.StreamResponse:
    return await _guarded(request, "console")


def _signed_in_page(name: str) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await _guarded(request, name)
    routes.get(f"/{name}")(handler)


# Every screen but the sign-in page (operator_ui.PAGES lists them).
for _name in SIGNED_IN_PAGES:
    _signed_in_page(_name)


ASSETS = {".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
          ".woff2": "font/woff2"}


@routes.get("/ui/{path:.+}")
async def asset(request: web.Request) -> web.FileResponse:
    """Scripts, styles and dictionaries only: the pages themselves are served above, behind the session check."""
    root = static_dir()
    path = (root / request.match_info["path"]).resolve()
    if not path.is_relative_to(root) or path.suffix not in ASSETS or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": ASSETS[path.suffix], "X-Content-Type-Options": "nosniff",
                                           "Cache-Control": "no-cache"})
