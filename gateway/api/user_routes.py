"""/api/v1/users: user management for admins (supervisors may read the list)."""
from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm_store import audit, users
from crm_store.types import Role
from gateway.api.params import path_id
from gateway.api.serialize import user_json
from gateway.auth import client_ip, principal, require_role
from gateway.errors import read_model, refuse
from gateway.keys import CLOCK, NOTIFIER, ROUTING, SESSIONS, SIGNED_IN
from gateway.tasks import when

routes = web.RouteTableDef()

Name = Field(min_length=1, max_length=100, pattern=r"^[\w.@+-]+$")
# Skill levels and capacities are small counts; routing and Redis keep them as plain integers.
Level = Annotated[int, Field(ge=0, le=1000)]
SkillName = Annotated[str, Field(min_length=1, max_length=100)]


def _zone(value: str) -> str:
    if not when.is_zone(value):
        raise ValueError(f"unknown time zone {value[:64]!r} (an IANA name such as Europe/Moscow)")
    return value


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Name
    password: str = Field(min_length=8, max_length=1000)
    role: Role
    display_name: str | None = Field(None, max_length=200)
    extension: str | None = Field(None, max_length=40, pattern=r"^[\w*#+-]+$")
    skills: dict[SkillName, Level] = {}
    capacity: dict[SkillName, Level] | None = None
    team: str | None = Field(None, max_length=100)
    locale: str = Field("en", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    time_zone: str = Field("UTC", max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(None, min_length=8, max_length=1000)
    role: Role | None = None
    display_name: str | None = Field(None, max_length=200)
    extension: str | None = Field(None, max_length=40)
    skills: dict[SkillName, Level] | None = None
    capacity: dict[SkillName, Level] | None = None
    team: str | None = Field(None, max_length=100)
    locale: str | None = Field(None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    time_zone: str | None = Field(None, max_length=64)
    active: bool | None = None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else _zone(value)


class PasswordReset(BaseModel):
    """No fields: the server chooses the password, so no admin ever picks a weak or reused one."""

    model_config = ConfigDict(extra="forbid")


@routes.get("/api/v1/users")
async def list_users(request: web.Request) -> web.Response:
    await require_role(request, Role.ADMIN, Role.SUPERVISOR)
    async with request.app[SESSIONS]() as session:
        return web.json_response({"items": [user_json(u) for u in await users.list_users(session)]})


@routes.post("/api/v1/users")
async def add_user(request: web.Request) -> web.Response:
    who = await require_role(request, Role.ADMIN)
    body = await read_model(request, UserIn)
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        user = await users.create_user(session, users.NewUser(**body.model_dump()), now)
        audit.record(session, "user.create", now, user_id=who.user_id, ip=client_ip(request),
                     detail={"user_id": user.id, "username": user.username, "role": user.role})
    await request.app[ROUTING].sync_user(user)
    return web.json_response(user_json(user), status=201)


@routes.patch("/api/v1/users/{user_id:[0-9]+}")
async def change_user(request: web.Request) -> web.Response:
    who = await require_role(request, Role.ADMIN)
    body = await read_model(request, UserPatch)
    now = request.app[CLOCK]()
    changes = body.model_dump(exclude_unset=True)
    for name in ("password", "role", "display_name", "time_zone", "locale", "active", "skills", "capacity"):
        if name in changes and changes[name] is None:
            refuse(422, "invalid", f"{name} cannot be null", name)
    async with request.app[SESSIONS]() as session, session.begin():
        user = await users.get_user(session, path_id(request, "user_id", "user"))
        if user.id == who.user_id and (changes.get("active") is False or changes.get("role", Role.ADMIN) != Role.ADMIN):
            refuse(409, "conflict", "you cannot demote or deactivate yourself", "role")
        await users.update_user(session, user, changes)
        audit.record(session, "user.update", now, user_id=who.user_id, ip=client_ip(request),
                     detail={"user_id": user.id, "fields": sorted(body.model_fields_set)})
    request.app[SIGNED_IN].forget_user(user.id)      # role, team, name: seen by their next request here
    if changes.get("active") is False or "password" in changes:
        # Their sessions are gone (disabled, or a new password): so are their open screens, everywhere.
        await request.app[NOTIFIER].session_ended(user.id, None, "disabled" if changes.get("active") is False
                                                  else "password changed")
    await request.app[ROUTING].sync_user(user)
    return web.json_response(user_json(user))


@routes.post("/api/v1/users/{user_id:[0-9]+}/password")
async def reset_password(request: web.Request) -> web.Response:
    """A new random password, shown to the admin once (only its hash is kept); the user's sign-ins end."""
    who = await require_role(request, Role.ADMIN)
    await read_model(request, PasswordReset)
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        user = await users.get_user(session, path_id(request, "user_id", "user"))
        password = users.one_time_password()
        await users.set_password(session, user, password, temporary=True)
        audit.record(session, "user.password_reset", now, user_id=who.user_id, ip=client_ip(request),
                     detail={"user_id": user.id, "username": user.username})
    await request.app[NOTIFIER].session_ended(user.id, None, "password changed")
    return web.json_response({"user_id": user.id, "username": user.username, "password": password})


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=8, max_length=1000)


@routes.post("/api/v1/me/password")
async def change_own_password(request: web.Request) -> web.Response:
    """A user chooses their password (the only thing one with an admin's one-time password may do); their
    other sign-ins end, this one stays."""
    who = principal(request)
    body = await read_model(request, PasswordChange)
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        user = await users.get_user(session, who.user_id)
        ended = await users.change_own_password(session, user, body.current_password, body.new_password, who.token)
        audit.record(session, "user.password_change", now, user_id=who.user_id, ip=client_ip(request),
                     detail={"sessions_ended": len(ended)})
        answer = user_json(user)
    request.app[SIGNED_IN].forget_user(who.user_id)     # no longer bound to choosing a password
    for digest in ended:
        await request.app[NOTIFIER].session_ended(who.user_id, digest, "password changed")
    return web.json_response(answer)
