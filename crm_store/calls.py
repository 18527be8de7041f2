"""A call is one interaction on its lead; as the call progresses its record is filled in."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select
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


@dataclass(frozen=True, slots=True)
class Answer:
    """An operator answered a call (see `take_call`)."""
    lead_id: int
    user_id: int
    call_id: str
    rang_at: datetime
    at: datetime
    reassign: bool
    handled: bool = True


def take_call(session: Session, lead_id: int, user_id: int, call_id: str, *, rang_at: datetime, at: datetime,
              reassign: bool, handled: bool = True) -> bool:
    """An operator answered the call: the lead is theirs as if they had accepted an offer for it (the assignee,
    the client's owner if the client has none, an accepted offer in the statistics when `handled`). `reassign`
    False leaves a lead someone else works with them (a click-to-call on a colleague's lead). False if the lead
    or the user is gone."""
    return take_calls(session, [Answer(lead_id, user_id, call_id, rang_at, at, reassign, handled)])[0]


def take_calls(session: Session, answers: Sequence[Answer]) -> list[bool]:
    """`take_call` for each answer, in order: the rows they need in one SELECT, their new rows in one flush."""
    if not answers:
        return []
    task_ids = {call_task_id(a.call_id, a.user_id) for a in answers}
    # Each lead with its contact, beside each answering user (a handful), and the answers' traces already there.
    rows = session.execute(
        select(Lead, Contact, User, RoutingTask.id).join(Contact, Contact.id == Lead.contact_id)
        .join(User, User.id.in_({a.user_id for a in answers}))
        .outerjoin(RoutingTask, and_(RoutingTask.id.in_(task_ids), RoutingTask.lead_id == Lead.id,
                                     RoutingTask.assignee_id == User.id))
        .where(Lead.id.in_({a.lead_id for a in answers}))).all()
    found = {(lead.id, user.id): (lead, contact, user) for lead, contact, user, _ in rows}
    traced = {trace for *_, trace in rows if trace is not None}
    taken, traces, offers, audits = [], [], [], []
    for answer in answers:
        row = found.get((answer.lead_id, answer.user_id))
        if row is None or row[0].deleted_at is not None or not row[2].active:
            taken.append(False)
            continue
        lead, contact, user = row
        if answer.reassign or lead.assignee_id is None:
            audits.append(_assign(lead, contact, user, answer))
        task_id = call_task_id(answer.call_id, answer.user_id)
        if answer.handled and task_id not in traced:
            traced.add(task_id)
            # The call on the phone is routing's live task; this row is its trace (done from the start, so it is
            # never a lead's open work), and its accepted offer counts the answer as handled work.
            traces.append(dict(
                id=task_id, lead_id=lead.id, kind="call", channel=VOICE, queue="default", priority=0, skills={},
                owner_id=lead.owner_id, state="completed", assignee_id=user.id, created_at=answer.rang_at,
                sla_deadline=None, assigned_at=answer.at, finished_at=None))
            offers.append(dict(id=f"{task_id}:answer", task_id=task_id, agent_id=user.id,
                               created_at=answer.rang_at, expires_at=answer.at, outcome="accepted",
                               decided_at=answer.at, explanation={"call_id": answer.call_id}))
        taken.append(True)
    if traces:
        # Rows nothing else in the transaction holds as objects: bulk INSERTs (two statements for the group), where
        # the unit of work's flush of them was a third of the answers' cost. Tasks first: the offers refer to them.
        session.execute(insert(RoutingTask), traces)
        session.execute(insert(Reservation), offers)
    audit.record_all(session, audits)
    return taken


def _assign(lead: Lead, contact: Contact, user: User, answer: Answer) -> dict[str, Any]:
    """The lead is the user's; returns its audit entry (`audit.entry`) for the group's one INSERT."""
    before = (lead.assignee_id, lead.status, lead.owner_id)
    lead.assignee_id, lead.team_id = user.id, user.team_id
    if lead.status == LeadStatus.NEW:
        lead.status = LeadStatus.ASSIGNED.value
    if contact.owner_id is None:
        contact.owner_id = user.id
        if lead.owner_id is None:
            lead.owner_id = user.id
    lead.updated_at = answer.at
    return audit.entry("lead.accepted", answer.at, user_id=user.id, lead_id=lead.id,
                       detail={"call_id": answer.call_id, "assignee_id": [before[0], user.id],
                               "status": [before[1], lead.status], "owner_id": [before[2], lead.owner_id]})


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
