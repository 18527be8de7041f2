"""Authentication for /api/v1 and /ws: bearer token or session cookie; refusals are audited."""
from __future__ import annotations

import functools
from datetime import datetime
from collections.abc import Callable

from aiohttp import web

from crm_store import audit, users
from crm_store import errors as store_errors
from crm_store.types import Role
from gateway import logs
from gateway.auth_types import Principal
from gateway.signed_in import SignedIn
from gateway.errors import ApiError, Handler, error_response, refuse
from gateway.keys import CLOCK, PRINCIPAL, SESSIONS, SIGNED_IN

COOKIE = "switchboard_session"
PUBLIC = frozenset({"/api/v1/auth/login", "/api/v1/openapi.json"})
# All a user whose password an admin reset may do: choose their own, see who they are, or sign out.
WHILE_TEMPORARY = frozenset({("POST", "/api/v1/me/password"), ("GET", "/api/v1/me"), ("POST", "/api/v1/auth/logout")})


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if request.path == "/ws" and request.query.get("token"):
        return request.query["token"]
    return request.cookies.get(COOKIE)


def is_cookie_authenticated(request: web.Request) -> bool:
    """The request would be signed in by the cookie alone: what a browser adds to any request by itself."""
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return False     # a header a cross-site page cannot make a browser send
    return COOKIE in request.cookies


def client_ip(request: web.Request) -> str | None:
    return request.remote


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    protected = (request.path.startswith("/api/") or request.path == "/ws") and request.path not in PUBLIC
    if not protected or request.method == "OPTIONS":
        return await handler(request)
    token = token_of(request)
    now = request.app[CLOCK]()
    signed = await _signed_in(request, token, now) if token else None
    if signed is None:
        async with request.app[SESSIONS]() as session, session.begin():
            audit.record(session, "auth.unauthenticated", now, outcome="unauthenticated", ip=client_ip(request),
                         detail={"method": request.method, "path": request.path})
        return error_response(401, "unauthenticated", "sign in first", headers={"WWW-Authenticate": "Bearer"})
    if signed.must_change_password and (request.method, request.path) not in WHILE_TEMPORARY:
        return error_response(403, "password_change_required", "choose your own password first (POST /api/v1/me/password)",
                              "new_password")
    request[PRINCIPAL] = signed.principal
    logs.bind(user=signed.principal.user_id)
    return await handler(request)


async def _signed_in(request: web.Request, token: str, now: datetime) -> SignedIn | None:
    """Who `token` signs in: remembered for a few seconds (gateway.signed_in), else read (no write gate: a read)."""
    remembered = request.app[SIGNED_IN]
    found = remembered.get(token, now)
    if found is not None:
        return found
    generation = remembered.generation
    async with request.app[SESSIONS]() as session:
        row = await users.session_of_token(session, token, now)
    return remembered.put(token, row[0], row[1], now, generation) if row is not None else None


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


async def require_role(request: web.Request, *roles: Role) -> Principal:
    """The caller, if their role is one of `roles`; otherwise a 403 that is audited."""
    who = principal(request)
    if who.role in roles:
        return who
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        audit.record(session, "auth.forbidden", now, user_id=who.user_id, outcome="denied", ip=client_ip(request),
                     detail={"method": request.method, "path": request.path, "role": who.role})
    refuse(403, "forbidden", f"this needs one of the roles: {', '.join(r.value for r in roles)}")


def _path_id(request: web.Request, name: str) -> int | None:
    raw = request.match_info.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None     # what a BIGINT column holds


async def record_refusal(request: web.Request, action: str, reason: str) -> None:
    """A denied entry in its own transaction: the refused request's own work is rolled back."""
    who = request.get(PRINCIPAL)
    async with request.app[SESSIONS]() as session, session.begin():
        audit.record(session, action, request.app[CLOCK](), user_id=who.user_id if who else None, outcome="denied",
                     lead_id=_path_id(request, "lead_id"), ip=client_ip(request),
                     detail={"method": request.method, "path": request.path[:300], "reason": reason[:300]})


def audit_refusals(action: str) -> Callable[[Handler], Handler]:
    """Record in the audit log every 403 and 404 the handler answers: probing is visible afterwards."""
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def audited(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ApiError as exc:
                if exc.status in (403, 404):
                    await record_refusal(request, action, exc.message)
                raise
            except (store_errors.Forbidden, store_errors.NotFound) as exc:
                await record_refusal(request, action, exc.message)
                raise
        return audited
    return wrap
