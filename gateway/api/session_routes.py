"""Sign-in and sign-out: a bearer token for API clients and the same token as an HttpOnly cookie."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from crm_store import audit, fields, users
from gateway.api.client_json import directory_json, field_json
from gateway.api.serialize import user_json
from gateway.auth import COOKIE, client_ip, principal
from gateway.errors import error_response, read_model
from gateway.keys import CLOCK, INGESTOR, NOTIFIER, SESSIONS, SETTINGS
from gateway.throttle import LOGIN_THROTTLE

routes = web.RouteTableDef()


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    body = await read_model(request, Login)
    settings, now = request.app[SETTINGS], request.app[CLOCK]()
    throttle, address = request.app[LOGIN_THROTTLE], client_ip(request)
    wait = await throttle.retry_after(body.username, address)
    if wait:
        # Refused before the password is checked: a guesser gets no answer and costs no hashing.
        async with request.app[SESSIONS]() as session, session.begin():
            audit.record(session, "auth.login_throttled", now, outcome="denied", ip=address,
                         detail={"username": body.username, "retry_after": wait})
        return error_response(429, "too_many_attempts",
                              f"too many failed sign-ins; try again in {wait} seconds",
                              headers={"Retry-After": str(wait)})
    async with request.app[SESSIONS]() as session:
        candidate = await users.sign_in_candidate(session, body.username)
    # Checked with no connection held and outside any write: argon2 takes tens of ms by design.
    checked = await users.password_checked(candidate, body.password)
    hours = timedelta(hours=settings.http.session_hours)

    async def sign_in(session: Any) -> tuple[str, dict[str, Any]] | None:
        user = await users.checked_user(session, checked) if checked is not None else None
        if user is None:
            audit.record(session, "auth.login_failed", now, outcome="denied", ip=address,
                         detail={"username": body.username})
            return None
        token = await users.open_session(session, user, now, hours)
        audit.record(session, "auth.login", now, user_id=user.id, ip=address)
        return token, user_json(user)

    # In the writer's next group commit: a sign-in shares its commit with whatever else is being written.
    signed = await request.app[INGESTOR].write_soon(sign_in, "POST /api/v1/auth/login")
    if signed is None:
        await throttle.failed(body.username, address)
        token = None
    else:
        await throttle.succeeded(body.username)
        token, profile = signed
    if token is None:
        return error_response(401, "bad_credentials", "wrong username or password")
    response = web.json_response({"token": token, "user": profile})
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=settings.http.secure_cookies,
                        max_age=int(settings.http.session_hours * 3600), path="/")
    return response


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    who = principal(request)
    async with request.app[SESSIONS]() as session, session.begin():
        await users.close_session(session, who.token)
        audit.record(session, "auth.logout", request.app[CLOCK](), user_id=who.user_id, ip=client_ip(request))
    # The sockets this session opened, in every process, close now: a signed-out screen receives nothing.
    await request.app[NOTIFIER].session_ended(who.user_id, users.token_digest(who.token), "signed out")
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        user = await users.get_user(session, principal(request).user_id)
        return web.json_response(user_json(user))


@routes.get("/api/v1/config")
async def ui_config(request: web.Request) -> web.Response:
    """What the console needs to draw itself for this user: who they are, the card's form, the region."""
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session:
        user = await users.get_user(session, principal(request).user_id)
        profile = user_json(user)
        defined = [field_json(d) for d in await fields.definitions(session, active_only=True)]
        lists = [directory_json(d, v) for d, v in await fields.directories(session)]
    return web.json_response({
        "user": profile,
        "phone_region": settings.phone.region,
        # The lead card's form as it always was (name -> spec), now drawn from the field definitions.
        "lead_fields": {d["name"]: d for d in defined if d["entity"] == "lead"},
        "fields": {entity: [d for d in defined if d["entity"] == entity] for entity in ("lead", "contact", "company")},
        "directories": lists,
        "queues": sorted(settings.routing.queues),
        "finished_card_seconds": settings.console.finished_card_seconds,
        "source_labels": settings.console.source_labels,
    })
