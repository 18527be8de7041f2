"""Cross-site request forgery: a change made with the session cookie must come from our own pages.

SameSite=Strict keeps the cookie off other sites' requests, but not off a sibling subdomain's
(same site, other origin). So a state-changing request that the cookie authenticates needs a
same-origin `Origin` (or, where a browser sends none, `Referer`) and a JSON body, which no plain
HTML form can send. Bearer-token clients carry no ambient credential and are not concerned;
public form posts (`/forms/...`) are cross-origin by design and never use the cookie.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from crm_store import audit
from gateway.auth import PUBLIC, client_ip, is_cookie_authenticated
from gateway.errors import Handler, error_response
from gateway.keys import CLOCK, PRINCIPAL, SESSIONS

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A file upload cannot be JSON. A plain HTML form cannot set a header, and a cross-origin script setting one
# needs a CORS preflight we never grant: multipart with this header is as unforgeable as a JSON body.
UPLOAD_HEADER = "X-Switchboard-Upload"


def _origin(request: web.Request) -> str | None:
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return origin
    return request.headers.get("Referer") or origin


def same_origin(request: web.Request) -> bool:
    origin = _origin(request)
    if not origin:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()


def _refusal(request: web.Request) -> tuple[int, str, str] | None:
    if not same_origin(request):
        return 403, "cross_origin", "a change made with the session cookie must come from this site's own pages"
    if request.body_exists and request.content_type != "application/json" and not _upload(request):
        return 415, "unsupported_media_type", "send the body as application/json"
    return None


def _upload(request: web.Request) -> bool:
    return request.content_type == "multipart/form-data" and request.headers.get(UPLOAD_HEADER) == "1"


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (request.method in SAFE_METHODS or not request.path.startswith("/api/") or request.path in PUBLIC
            or not is_cookie_authenticated(request)):
        return await handler(request)
    refusal = _refusal(request)
    if refusal is None:
        return await handler(request)
    status, code, message = refusal
    who = request.get(PRINCIPAL)
    async with request.app[SESSIONS]() as session, session.begin():
        audit.record(session, "auth.cross_site_refused", request.app[CLOCK](), outcome="denied",
                     user_id=who.user_id if who else None, ip=client_ip(request),
                     detail={"method": request.method, "path": request.path[:300],
                             "origin": (_origin(request) or "")[:300],
                             "content_type": request.content_type[:100]})
    return error_response(status, code, message)
