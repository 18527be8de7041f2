"""Tasks: what was promised to a client (a call back, a meeting, a message), who does it, and by when.

Visibility follows the lead's (`leads.visible`) or, for a task on a client, the client's reach
(`reach.contact_in_reach`); a task is always visible to its assignee.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement, DateTime, Integer, String, and_, cast, func, insert, literal, null, or_, select, true, update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm_store import audit, leads
from crm_store.errors import Forbidden, Invalid, NotFound
from crm_store.models import AuditEntry, Contact, Lead, Task, User
from crm_store.reach import contact_in_reach
from crm_store.types import Viewer

KINDS = ("call", "meeting", "email", "message", "other")
# Reaching the client does these: a call answered, a reply sent, a message answered, on whatever channel.
DONE_BY_REACHING = ("call", "email", "message")
OPEN, DONE, CANCELED = "open", "done", "canceled"


@dataclass(frozen=True, slots=True)
class NewTask:
    kind: str
    due_at: datetime
    lead_id: int | None = None
    contact_id: int | None = None
    assignee_id: int | None = None       # None: the creator
    note: str = ""


@dataclass(frozen=True, slots=True)
class Closed:
    """A task reaching the client closed; its routing task (a callback) ends with it."""

    task_id: int
    lead_id: int | None
    routing_task_id: str | None


def visible(viewer: Viewer) -> ColumnElement[bool]:
    """SQL over Task true for the tasks `viewer` may see."""
    if viewer.role.sees_everything:
        return true()
    on_lead = Task.lead_id.in_(select(Lead.id).where(Lead.deleted_at.is_(None), leads.visible(viewer)))
    on_client = and_(Task.lead_id.is_(None), contact_in_reach(viewer, Task.contact_id))
    return or_(Task.assignee_id == viewer.user_id, on_lead, on_client)


def _visible_query(viewer: Viewer) -> Any:
    return select(Task).where(visible(viewer))


async def get_visible(session: AsyncSession, viewer: Viewer, task_id: int) -> Task:
    task = await session.scalar(_visible_query(viewer).where(Task.id == task_id))
    if task is None:
        exists = await session.get(Task, task_id)
        if exists is None:
            raise NotFound(f"task {task_id} not found")
        raise Forbidden(f"task {task_id} belongs to someone else")
    return task


async def _check_assignee(session: AsyncSession, viewer: Viewer, assignee_id: int) -> User:
    user = await session.get(User, assignee_id)
    if user is None or not user.active:
        raise Invalid(f"user {assignee_id} does not exist or is disabled", "assignee_id")
    if not viewer.role.sees_everything and user.id != viewer.user_id and \
            (viewer.team_id is None or user.team_id != viewer.team_id):
        raise Forbidden("a task can be given to yourself or someone in your team", "assignee_id")
    return user


async def create(session: AsyncSession, viewer: Viewer, new: NewTask, now: datetime, *, ip: str | None = None) -> Task:
    """A task made by a person on a lead or a client they can see."""
    if new.kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", "kind")
    if (new.lead_id is None) == (new.contact_id is None):
        raise Invalid("give either lead_id or contact_id", "lead_id")
    if new.lead_id is not None:
        lead = await leads.get_visible(session, viewer, new.lead_id)
        contact_id = lead.contact_id
    else:
        contact = await session.get(Contact, new.contact_id)
        if contact is None or contact.merged_into_id is not None:
            raise NotFound(f"contact {new.contact_id} not found")
        if not await session.scalar(select(contact_in_reach(viewer, contact.id))):
            raise Forbidden(f"contact {contact.id} belongs to someone else")
        contact_id = contact.id
    assignee = new.assignee_id or viewer.user_id
    await _check_assignee(session, viewer, assignee)
    task = Task(lead_id=new.lead_id, contact_id=contact_id, kind=new.kind, origin="manual", state=OPEN,
                due_at=new.due_at, assignee_id=assignee, created_by=viewer.user_id, note=new.note,
                created_at=now, updated_at=now)
    session.add(task)
    await session.flush()
    audit.record(session, "task.create", now, user_id=viewer.user_id, lead_id=new.lead_id, contact_id=contact_id,
                 ip=ip, detail={"task_id": task.id, "kind": task.kind, "assignee_id": assignee,
                                "due_at": task.due_at.isoformat()})
    return task


async def update_task(session: AsyncSession, viewer: Viewer, task: Task, changes: Mapping[str, Any], now: datetime,
                      *, ip: str | None = None) -> str | None:
    """Apply a person's changes; the routing task to end when this closed a callback."""
    before = {name: _plain(getattr(task, name)) for name in ("state", "due_at", "assignee_id", "note", "kind")}
    if "kind" in changes:
        if changes["kind"] not in KINDS:
            raise Invalid(f"kind must be one of {', '.join(KINDS)}", "kind")
        task.kind = changes["kind"]
    if "assignee_id" in changes:
        task.assignee_id = (await _check_assignee(session, viewer, changes["assignee_id"])).id
    if "due_at" in changes:
        task.due_at, task.reminded_at = changes["due_at"], None     # a new due time is reminded again
    if "note" in changes:
        task.note = changes["note"]
    if "result" in changes:
        task.result = changes["result"]
    ends: str | None = None
    if changes.get("done") is True and task.state == OPEN:
        task.state, task.done_at, task.closed_by = DONE, now, "user"
        ends = task.routing_task_id
    elif changes.get("done") is False and task.state != OPEN:
        task.state, task.done_at, task.closed_by, task.reminded_at = OPEN, None, None, None
    task.updated_at = now
    after = {name: _plain(getattr(task, name)) for name in before}
    audit.record(session, "task.update", now, user_id=viewer.user_id, lead_id=task.lead_id,
                 contact_id=task.contact_id, ip=ip,
                 detail={"task_id": task.id, **{k: [before[k], after[k]] for k in before if before[k] != after[k]},
                         **({"result": task.result} if "result" in changes else {})})
    await session.flush()
    return ends


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True, slots=True)
class Window:
    """The user's day, in UTC: what is overdue, due today, or later."""

    now: datetime
    day_end: datetime


async def list_tasks(session: AsyncSession, viewer: Viewer, view: str, window: Window, *,
                     lead_id: int | None = None, contact_id: int | None = None, limit: int = 200) -> list[Task]:
    """Open tasks: `mine`, `overdue` (mine; everyone's visible for supervisors), `team` (all visible), or a lead's."""
    query = _visible_query(viewer)
    if lead_id is not None or contact_id is not None:
        if lead_id is not None:
            query = query.where(Task.lead_id == lead_id)
        if contact_id is not None:
            query = query.where(Task.contact_id == contact_id)
        query = query.order_by(Task.state != OPEN, Task.due_at, Task.id)
    else:
        query = query.where(Task.state == OPEN)
        if view == "mine":
            query = query.where(Task.assignee_id == viewer.user_id)
        elif view == "overdue":
            query = query.where(Task.due_at < window.now)
            if not viewer.role.sees_everything:
                query = query.where(Task.assignee_id == viewer.user_id)
        query = query.order_by(Task.due_at, Task.id)
    return list(await session.scalars(query.limit(limit)))


async def counts(session: AsyncSession, viewer: Viewer, window: Window) -> dict[str, int]:
    """The header's numbers: my open tasks overdue, due later today, and after today."""
    bucket = func.sum
    mine = and_(Task.assignee_id == viewer.user_id, Task.state == OPEN)
    row = (await session.execute(select(
        bucket((Task.due_at < window.now).cast(Integer())),
        bucket(and_(Task.due_at >= window.now, Task.due_at < window.day_end).cast(Integer())),
        bucket((Task.due_at >= window.day_end).cast(Integer()))).where(mine))).one()
    result = {"overdue": int(row[0] or 0), "today": int(row[1] or 0), "upcoming": int(row[2] or 0)}
    if viewer.role.sees_everything:
        result["team_overdue"] = int(await session.scalar(select(func.count()).select_from(Task).where(
            Task.state == OPEN, Task.due_at < window.now)) or 0)
    return result


# -- reaching the client --------------------------------------------------------------------------------

def close_reached(session: Session, contact_ids: Collection[int], channel: str, at: datetime) -> list[Closed]:
    """The client was reached on `channel`: their open call, message and e-mail tasks are done."""
    if not contact_ids:
        return []
    rows = list(session.scalars(select(Task).where(Task.contact_id.in_(list(contact_ids)), Task.state == OPEN,
                                                   Task.kind.in_(DONE_BY_REACHING))))
    for task in rows:
        task.state, task.done_at, task.updated_at, task.closed_by = DONE, at, at, f"reached:{channel}"
        audit.record(session, "task.done", at, lead_id=task.lead_id, contact_id=task.contact_id,
                     detail={"actor": audit.SYSTEM_ACTOR, "reason": f"client reached by {channel}", "task_id": task.id})
    return [Closed(t.id, t.lead_id, t.routing_task_id) for t in rows]


def contact_of_lead(session: Session, lead_id: int) -> int | None:
    return session.scalar(select(Lead.contact_id).where(Lead.id == lead_id))


def add_callback(session: Session, *, lead_id: int, routing_task_id: str, assignee_id: int | None,
                 at: datetime) -> None:
    """A missed call's callback, as a task of kind call beside its routing task (which routes it)."""
    contact_id = contact_of_lead(session, lead_id)
    if contact_id is None:
        return
    session.add(Task(lead_id=lead_id, contact_id=contact_id, kind="call", origin="callback", state=OPEN, due_at=at,
                     assignee_id=assignee_id, created_by=None, note="", routing_task_id=routing_task_id,
                     created_at=at, updated_at=at))


def add_system_task(session: Session, *, lead_id: int, kind: str, origin: str, assignee_id: int | None,
                    due_at: datetime, note: str, at: datetime) -> Task | None:
    """A task a rule made (a forgotten lead's follow-up)."""
    contact_id = contact_of_lead(session, lead_id)
    if contact_id is None:
        return None
    task = Task(lead_id=lead_id, contact_id=contact_id, kind=kind, origin=origin, state=OPEN, due_at=due_at,
                assignee_id=assignee_id, created_by=None, note=note, created_at=at, updated_at=at)
    session.add(task)
    return task


async def follow_routing_task(session: AsyncSession, routing_task_id: str, assignee_id: int, at: datetime) -> None:
    """Whoever accepted a callback's offer does its task."""
    await session.execute(update(Task).where(Task.routing_task_id == routing_task_id, Task.state == OPEN)
                          .values(assignee_id=assignee_id, updated_at=at))


# -- reminders --------------------------------------------------------------------------------------------

async def next_due(session: AsyncSession, limit: int, after: tuple[datetime, int] | None = None) -> list[tuple[int, datetime]]:
    """The next `limit` open tasks not yet reminded, by due time: what the timer holds."""
    query = select(Task.id, Task.due_at).where(Task.state == OPEN, Task.reminded_at.is_(None))
    if after is not None:
        query = query.where(or_(Task.due_at > after[0], and_(Task.due_at == after[0], Task.id > after[1])))
    rows = await session.execute(query.order_by(Task.due_at, Task.id).limit(limit))
    return [(task_id, due) for task_id, due in rows]


async def assignees_of(session: AsyncSession, task_ids: Collection[int]) -> set[int]:
    """Who the tasks are assigned to: read before a claim, so what needs them (a presence lookup in Redis)
    runs outside the claiming transaction."""
    if not task_ids:
        return set()
    rows = await session.scalars(select(Task.assignee_id).where(Task.id.in_(list(task_ids)),
                                                               Task.assignee_id.is_not(None)).distinct())
    return {user_id for user_id in rows if user_id is not None}


async def claim_reminders(session: AsyncSession, task_ids: Collection[int], now: datetime) -> list[int]:
    """Take the reminders of due tasks for this process: a conditional UPDATE, so across processes exactly one
    claimer gets each (the others' WHERE no longer matches); the ids this caller won."""
    if not task_ids:
        return []
    rows = await session.execute(update(Task).where(
        Task.id.in_(list(task_ids)), Task.state == OPEN, Task.reminded_at.is_(None), Task.due_at <= now)
        .values(reminded_at=now).returning(Task.id).execution_options(synchronize_session=False))
    return sorted(task_id for (task_id,) in rows)


@dataclass(frozen=True, slots=True)
class Reminder:
    task_id: int
    kind: str
    due_at: datetime
    note: str
    lead_id: int | None
    contact_id: int
    client_name: str | None
    assignee_id: int | None
    assignee: User | None


async def claim_due(session: AsyncSession, task_ids: Collection[int], now: datetime) -> list[Reminder]:
    """Claim (as `claim_reminders`) and read the reminders this caller won, in three statements whatever their
    number: the UPDATE returns the task's columns, then the clients' names and the assignees are read once each."""
    if not task_ids:
        return []
    # The table, not the entity: an ORM-enabled UPDATE … RETURNING costs about twice as much per row here.
    t = Task.__table__.c
    rows = list((await session.execute(update(Task.__table__).where(
        t.id.in_(list(task_ids)), t.state == OPEN, t.reminded_at.is_(None), t.due_at <= now)
        .values(reminded_at=now)
        .returning(t.id, t.kind, t.due_at, t.note, t.lead_id, t.contact_id, t.assignee_id))).all())
    if not rows:
        return []
    names = await names_of_contacts(session, {row.contact_id for row in rows})
    people = {u.id: u for u in await session.scalars(select(User).where(
        User.id.in_({row.assignee_id for row in rows if row.assignee_id is not None})))}
    return sorted((Reminder(row.id, row.kind, row.due_at, row.note, row.lead_id, row.contact_id,
                            names.get(row.contact_id), row.assignee_id,
                            people.get(row.assignee_id) if row.assignee_id is not None else None)
                   for row in rows), key=lambda r: (r.due_at, r.task_id))


def _text(value: str) -> ColumnElement[str]:
    # Typed in the SQL itself: asyncpg cannot guess the type of a bare parameter given to json_build_object.
    return cast(literal(value, String()), String())


async def audit_reminded(session: AsyncSession, task_ids: Collection[int], via: str, error: str | None,
                         at: datetime) -> None:
    """One `task.reminded` audit entry per task, written by the database in one INSERT … SELECT: a burst of
    reminders costs one statement, not a row built in Python each (the detail is made by the JSON function)."""
    if not task_ids:
        return
    dialect = session.get_bind().dialect.name
    json_object = func.json_build_object if dialect == "postgresql" else func.json_object
    detail = json_object(_text("task_id"), Task.id, _text("via"), _text(via), _text("error"),
                         _text(error) if error is not None else null())
    when: ColumnElement[Any] = literal(at, AuditEntry.at.type)
    if dialect == "postgresql":
        when = cast(when, DateTime(timezone=True))      # asyncpg types a bare parameter in a SELECT as text
    rows = select(when, Task.assignee_id,
                  _text("task.reminded"), _text("ok"), Task.lead_id, Task.contact_id, null(), detail) \
        .where(Task.id.in_(list(task_ids))).order_by(Task.due_at, Task.id)
    await session.execute(insert(AuditEntry).from_select(
        ["at", "user_id", "action", "outcome", "lead_id", "contact_id", "ip", "detail"], rows))


async def reminder_of(session: AsyncSession, task_id: int) -> Reminder | None:
    row = (await session.execute(select(Task, Contact.display_name).join(Contact, Contact.id == Task.contact_id)
                                 .where(Task.id == task_id))).first()
    if row is None:
        return None
    task, name = row
    assignee = await session.get(User, task.assignee_id) if task.assignee_id is not None else None
    return Reminder(task.id, task.kind, task.due_at, task.note, task.lead_id, task.contact_id, name,
                    task.assignee_id, assignee)


async def names_of_contacts(session: AsyncSession, contact_ids: Collection[int]) -> dict[int, str | None]:
    if not contact_ids:
        return {}
    rows = await session.execute(select(Contact.id, Contact.display_name).where(Contact.id.in_(list(contact_ids))))
    return {cid: name for cid, name in rows}
