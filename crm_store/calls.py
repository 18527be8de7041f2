"""A call is one interaction on its lead; as the call progresses its record is filled in."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm_store import audit, call_facts
from crm_store.models import Contact, Identity, Interaction, Lead, Reservation, RoutingTask, User
from crm_store.routing_log import OPEN_TASK_STATES
from crm_store.types import LeadStatus
from vocabulary.channels import VOICE
CALLBACK = "callback"     # the routing task a missed call leaves: call the client back


def update_calls(session: Session, changes: Mapping[int, Mapping[str, Any]]) -> None:
    """Merge each call's changes into its record (the interaction its start created), by interaction id."""
    if not changes:
        return
    items = list(session.scalars(select(Interaction).where(Interaction.id.in_(changes))))
    for item in items:
        item.attributes = {**item.attributes, **changes[item.id]}
    call_facts.replace_facts(session, items)      # in the same transaction: the report never sees one without the other


def open_tasks_of_leads(session: Session, lead_ids: set[int]) -> dict[int, RoutingTask]:
    """The open routing task of each lead that has one."""
    if not lead_ids:
        return {}
    rows = session.scalars(select(RoutingTask).where(RoutingTask.lead_id.in_(lead_ids),
                                                     RoutingTask.state.in_(OPEN_TASK_STATES)))
    return {row.lead_id: row for row in rows if row.lead_id is not None}


async def users_by_extension(session: AsyncSession, extensions: set[str]) -> dict[str, User]:
    if not extensions:
        return {}
    rows = await session.scalars(select(User).where(User.extension.in_(extensions), User.active.is_(True)))
    return {u.extension: u for u in rows if u.extension}


async def owner_of_phone(session: AsyncSession, phone: str) -> User | None:
    """The manager the caller is pinned to, if the number is a known client's and the owner is active."""
    owner = await session.scalar(
        select(User).join(Contact, Contact.owner_id == User.id).join(Identity, Identity.contact_id == Contact.id)
        .where(Identity.kind == "phone", Identity.value == phone, User.active.is_(True)).limit(1))
    return owner


async def users_with_extensions(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(User.id, User.extension).where(User.extension.is_not(None),
                                                                        User.active.is_(True)))
    return {user_id: extension for user_id, extension in rows if extension}


async def callbacks_waiting(session: AsyncSession) -> dict[str, int]:
    """Missed calls whose callback nobody has taken yet, per queue."""
    rows = await session.execute(select(RoutingTask.queue, func.count()).where(
        RoutingTask.kind == CALLBACK, RoutingTask.state.in_(("pending", "reserved"))).group_by(RoutingTask.queue))
    return {queue: count for queue, count in rows}


# -- calls belong to whoever takes them ----------------------------------------------------------------

def call_task_id(call_id: str, user_id: int) -> str:
    return f"answered:{call_id}:{user_id}"


def take_call(session: Session, lead_id: int, user_id: int, call_id: str, *, rang_at: datetime, at: datetime,
              reassign: bool, handled: bool = True) -> bool:
    """An operator answered the call: the lead is theirs as if they had accepted an offer for it (the assignee,
    the client's owner if the client has none, an accepted offer in the statistics when `handled`). `reassign`
    False leaves a lead someone else works with them (a click-to-call on a colleague's lead). False if the lead
    or the user is gone."""
    task_id = call_task_id(call_id, user_id)
    # The lead, its contact, the user and the answer's trace in one SELECT: this runs for every answered call.
    found = session.execute(
        select(Lead, Contact, User, RoutingTask.id).join(Contact, Contact.id == Lead.contact_id)
        .join(User, User.id == user_id).outerjoin(RoutingTask, RoutingTask.id == task_id)
        .where(Lead.id == lead_id)).first()
    if found is None:
        return False
    lead, contact, user, traced = found
    if lead.deleted_at is not None or not user.active:
        return False
    if reassign or lead.assignee_id is None:
        before = (lead.assignee_id, lead.status, lead.owner_id)
        lead.assignee_id, lead.team_id = user.id, user.team_id
        if lead.status == LeadStatus.NEW:
            lead.status = LeadStatus.ASSIGNED.value
        if contact.owner_id is None:
            contact.owner_id = user.id
            if lead.owner_id is None:
                lead.owner_id = user.id
        lead.updated_at = at
        audit.record(session, "lead.accepted", at, user_id=user.id, lead_id=lead_id,  # type: ignore[arg-type]
                     detail={"call_id": call_id, "assignee_id": [before[0], user.id],
                             "status": [before[1], lead.status], "owner_id": [before[2], lead.owner_id]})
    if handled and traced is None:      # (a trace added earlier in this session was flushed before the SELECT)
        # The call on the phone is routing's live task; this row is its trace (done from the start, so it is
        # never a lead's open work), and its accepted offer counts the answer as handled work.
        session.add(RoutingTask(id=task_id, lead_id=lead_id, kind="call", channel=VOICE, queue="default", priority=0,
                                skills={}, owner_id=lead.owner_id, state="completed", assignee_id=user_id,
                                created_at=rang_at, sla_deadline=None, assigned_at=at, finished_at=None))
        session.flush()       # the task row before its offer (no relationship orders the two inserts)
        session.add(Reservation(id=f"{task_id}:answer", task_id=task_id, agent_id=user_id, created_at=rang_at,
                                expires_at=at, outcome="accepted", decided_at=at, explanation={"call_id": call_id}))
    return True


def finish_call_tasks(session: Session, call_ids: set[str], at: datetime, lead_ids: set[int] | None = None) -> None:
    """The calls ended: their answered-call traces get their end. `lead_ids` (the calls' leads) narrows the read
    to their traces: without it every call still talking is loaded, some 800 rows at 100 calls/s."""
    if not call_ids:
        return
    where = [RoutingTask.kind == "call", RoutingTask.finished_at.is_(None)]
    if lead_ids is not None:
        where.append(RoutingTask.lead_id.in_(lead_ids))
    for row in session.scalars(select(RoutingTask).where(*where)):
        if row.id.split(":", 1)[1].rsplit(":", 1)[0] in call_ids:
            row.finished_at = at


def lead_unattended(session: Session, lead_id: int) -> bool:
    """Nobody works the lead and no routing task waits for it: it would be forgotten."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.deleted_at is not None or lead.assignee_id is not None:
        return False
    return not open_tasks_of_leads(session, {lead_id})
