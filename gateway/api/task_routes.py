"""/api/v1/tasks: follow-ups on leads and clients; My tasks (mine, overdue, team) with the header's counts."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import operator_ui
from crm_store import audit, tasks, users
from crm_store.models import Task, User
from gateway.api.params import DbId, path_id, query_id, query_int
from gateway.api.serialize import iso, user_json
from gateway.auth import audit_refusals, client_ip, principal
from gateway.errors import read_model, refuse
from gateway.keys import CLOCK, ROUTING, SESSIONS, SIGNED_IN, TASK_CHANGED
from gateway.tasks import when

routes = web.RouteTableDef()

Kind = Literal["call", "meeting", "email", "message", "other"]
Quick = Literal["in_1h", "tomorrow_10", "next_monday_10"]
EARLIEST, LATEST = datetime(1970, 1, 2, tzinfo=UTC), datetime(9000, 12, 31, tzinfo=UTC)


def _in_range(value: datetime | None) -> datetime | None:
    if value is not None:
        probe = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if not EARLIEST <= probe <= LATEST:
            raise ValueError("due_at must be between 1970-01-02 and 9000-12-31")
    return value


class NewTaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_id: DbId | None = None
    contact_id: DbId | None = None
    kind: Kind = "call"
    due_at: datetime | None = None      # ISO 8601; without an offset it is the user's own wall-clock time
    due: Quick | None = None            # or a quick choice, computed in the user's time zone
    assignee_id: DbId | None = None
    note: str = Field("", max_length=5000)

    @field_validator("due_at")
    @classmethod
    def _due_in_range(cls, value: datetime | None) -> datetime | None:
        return _in_range(value)

    @model_validator(mode="after")
    def _one_due(self) -> NewTaskIn:
        if (self.due_at is None) == (self.due is None):
            raise ValueError("give either due_at or due")
        return self


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    done: bool | None = None
    result: str | None = Field(None, max_length=5000)
    due_at: datetime | None = None
    due: Quick | None = None
    assignee_id: DbId | None = None
    note: str | None = Field(None, max_length=5000)
    kind: Kind | None = None

    @field_validator("due_at")
    @classmethod
    def _due_in_range(cls, value: datetime | None) -> datetime | None:
        return _in_range(value)


class Preferences(BaseModel):
    """What a user sets for themselves: their language, time zone and where reminders reach them when signed out."""

    model_config = ConfigDict(extra="forbid")

    locale: str | None = Field(None, max_length=10)
    time_zone: str | None = Field(None, max_length=64)
    remind_via: Literal["email", "telegram", "none"] | None = None
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    telegram_chat_id: str | None = Field(None, max_length=64, pattern=r"^-?[0-9]{1,20}$")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and not when.is_zone(value):
            raise ValueError(f"unknown time zone {value[:64]!r} (an IANA name such as Europe/Moscow)")
        return value

    @field_validator("locale")
    @classmethod
    def _offered_language(cls, value: str | None) -> str | None:
        # Only a language the console has a dictionary for: anything else would show raw keys.
        if value is not None and value not in operator_ui.languages():
            raise ValueError(f"locale must be one of {', '.join(sorted(operator_ui.languages()))}")
        return value


async def _me(request: web.Request) -> User:
    async with request.app[SESSIONS]() as session:
        return await users.get_user(session, principal(request).user_id)


def task_json(task: Task, now: datetime, tz: Any, client_name: str | None = None,
              assignee_name: str | None = None) -> dict[str, Any]:
    return {
        "id": task.id, "lead_id": task.lead_id, "contact_id": task.contact_id, "client_name": client_name,
        "assignee_name": assignee_name,
        "kind": task.kind, "origin": task.origin, "state": task.state, "due_at": iso(task.due_at),
        "due_local": task.due_at.astimezone(tz).isoformat(), "bucket": when.bucket(task.due_at, now, tz)
        if task.state == tasks.OPEN else task.state, "assignee_id": task.assignee_id,
        "created_by": task.created_by, "note": task.note, "result": task.result, "closed_by": task.closed_by,
        "reminded_at": iso(task.reminded_at), "created_at": iso(task.created_at), "done_at": iso(task.done_at),
    }


def _due(request: web.Request, due_at: datetime | None, due: str | None, tz: Any) -> datetime:
    now = request.app[CLOCK]()
    if due is not None:
        return when.quick(due, now, tz)
    assert due_at is not None
    return when.local_naive(due_at, tz)


@routes.get("/api/v1/tasks")
async def list_tasks(request: web.Request) -> web.Response:
    who, me = principal(request), await _me(request)
    view = request.query.get("view", "mine")
    if view not in ("mine", "overdue", "team"):
        refuse(422, "invalid", "view is 'mine', 'overdue' or 'team'", "view")
    lead_id, contact_id = query_id(request, "lead_id"), query_id(request, "contact_id")
    limit = query_int(request, "limit", 200, 1, 500)
    now, tz = request.app[CLOCK](), when.zone(me.time_zone)
    window = tasks.Window(now, when.day_end(now, tz))
    async with request.app[SESSIONS]() as session, session.begin():
        found = await tasks.list_tasks(session, who.viewer, view, window, lead_id=lead_id, contact_id=contact_id,
                                       limit=limit)
        names = await tasks.names_of_contacts(session, {t.contact_id for t in found})
        # Whose task it is: a supervisor's list of everyone's overdue work names each manager.
        people = {u.id: u.display_name for u in await users.users_by_id(
            session, sorted({t.assignee_id for t in found if t.assignee_id is not None}))}
        counts = await tasks.counts(session, who.viewer, window)
        audit.record(session, "tasks.list", now, user_id=who.user_id, ip=client_ip(request), lead_id=lead_id,
                     detail={"query": dict(request.query), "task_ids": [t.id for t in found]})
    return web.json_response({"items": [task_json(t, now, tz, names.get(t.contact_id), people.get(t.assignee_id or 0))
                                        for t in found],
                              "counts": counts, "time_zone": str(tz)})


@routes.get("/api/v1/tasks/counts")
async def task_counts(request: web.Request) -> web.Response:
    """The header's numbers: my tasks overdue, due today, later (and everyone's overdue for supervisors)."""
    who, me = principal(request), await _me(request)
    now, tz = request.app[CLOCK](), when.zone(me.time_zone)
    async with request.app[SESSIONS]() as session:
        return web.json_response(await tasks.counts(session, who.viewer, tasks.Window(now, when.day_end(now, tz))))


@routes.get("/api/v1/tasks/quick")
async def quick_choices(request: web.Request) -> web.Response:
    """The quick due choices as instants, computed in the caller's time zone."""
    me = await _me(request)
    now, tz = request.app[CLOCK](), when.zone(me.time_zone)
    return web.json_response({"time_zone": str(tz), "choices": {
        name: {"due_at": iso(when.quick(name, now, tz)), "due_local": when.quick(name, now, tz).astimezone(tz)
               .isoformat()} for name in when.QUICK}})


@routes.post("/api/v1/tasks")
@audit_refusals("task.create")
async def create_task(request: web.Request) -> web.Response:
    who, me = principal(request), await _me(request)
    body = await read_model(request, NewTaskIn)
    tz, now = when.zone(me.time_zone), request.app[CLOCK]()
    due_at = _due(request, body.due_at, body.due, tz)
    async with request.app[SESSIONS]() as session, session.begin():
        task = await tasks.create(session, who.viewer, tasks.NewTask(
            kind=body.kind, due_at=due_at, lead_id=body.lead_id, contact_id=body.contact_id,
            assignee_id=body.assignee_id, note=body.note), now, ip=client_ip(request))
        names = await tasks.names_of_contacts(session, {task.contact_id})
    request.app[TASK_CHANGED](task.id, task.due_at)
    return web.json_response(task_json(task, now, tz, names.get(task.contact_id)), status=201)


@routes.patch("/api/v1/tasks/{task_id:[0-9]+}")
@audit_refusals("task.update")
async def change_task(request: web.Request) -> web.Response:
    who, me = principal(request), await _me(request)
    task_id = path_id(request, "task_id", "task")
    body = await read_model(request, TaskPatch)
    if body.due_at is not None and body.due is not None:
        refuse(422, "invalid", "give either due_at or due", "due")
    tz, now = when.zone(me.time_zone), request.app[CLOCK]()
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"due"})
    if body.due is not None or body.due_at is not None:
        changes["due_at"] = _due(request, body.due_at, body.due, tz)
    for name in ("done", "kind", "assignee_id", "note"):
        if name in changes and changes[name] is None:
            refuse(422, "invalid", f"{name} cannot be null", name)
    async with request.app[SESSIONS]() as session, session.begin():
        task = await tasks.get_visible(session, who.viewer, task_id)
        ends = await tasks.update_task(session, who.viewer, task, changes, now, ip=client_ip(request))
        names = await tasks.names_of_contacts(session, {task.contact_id})
    if ends is not None and ROUTING in request.app:
        await request.app[ROUTING].end_task(ends)      # a callback done by hand leaves routing too
    if "due_at" in changes or changes.get("done") is False:
        request.app[TASK_CHANGED](task.id, task.due_at)
    return web.json_response(task_json(task, now, tz, names.get(task.contact_id)))


@routes.patch("/api/v1/me")
async def change_me(request: web.Request) -> web.Response:
    """A user's own preferences: language, time zone, and the channel reminders take while they are signed out."""
    who = principal(request)
    body = await read_model(request, Preferences)
    changes = body.model_dump(exclude_unset=True)
    for name in ("locale", "time_zone", "remind_via"):
        if name in changes and changes[name] is None:
            refuse(422, "invalid", f"{name} cannot be null", name)
    if changes.get("remind_via") == "none":
        changes["remind_via"] = None
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        user = await users.get_user(session, who.user_id)
        await users.update_user(session, user, changes)
        audit.record(session, "user.preferences", now, user_id=who.user_id, ip=client_ip(request),
                     detail={"fields": sorted(changes)})
    request.app[SIGNED_IN].forget_user(who.user_id)     # the next request carries the new locale
    return web.json_response(user_json(user))

