"""Routing's durable trail: tasks (so waiting work survives a restart) and every offer's outcome."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm_store import audit, leads, tasks
from crm_store.models import Lead, Reservation, RoutingTask
from crm_store.types import OPEN_STATUSES
from crm_store.task_refs import LeadTask, lead_of_task

OPEN_TASK_STATES = ("pending", "reserved", "assigned", "wrapping")
WAITING_TASK_STATES = ("pending", "reserved")     # not held by anyone: routing offers them


def task_id_for(lead_id: int, interaction_id: int) -> str:
    return LeadTask(lead_id, interaction_id).encode()


def task_state_values(state: str, at: datetime, assignee_id: int | None = None) -> dict[str, Any]:
    """The columns of a routing task that change when it enters `state`."""
    values: dict[str, Any] = {"state": state}
    if state == "assigned":
        values.update(assignee_id=assignee_id, assigned_at=at)
    elif state in ("completed", "canceled"):
        values["finished_at"] = at
    elif state == "pending":
        values["assignee_id"] = None
    return values


async def set_task_state(session: AsyncSession, task_id: str, state: str, at: datetime,
                         assignee_id: int | None = None) -> None:
    await session.execute(update(RoutingTask).where(RoutingTask.id == task_id)
                          .values(**task_state_values(state, at, assignee_id)))


async def waiting_task_ids(session: AsyncSession) -> list[str]:
    """Tasks waiting for an agent, oldest first: what a restarted router routes again (their rows are read
    back in chunks just before, `task_rows`)."""
    return list(await session.scalars(select(RoutingTask.id).where(RoutingTask.state.in_(WAITING_TASK_STATES))
                                      .order_by(RoutingTask.created_at, RoutingTask.id)))


async def task_row(session: AsyncSession, task_id: str) -> RoutingTask | None:
    return await session.get(RoutingTask, task_id)


async def task_rows(session: AsyncSession, task_ids: Collection[str]) -> dict[str, RoutingTask]:
    """The rows of these tasks as they are now, by id (a task no longer stored is absent)."""
    return {row.id: row for row in await session.scalars(select(RoutingTask).where(RoutingTask.id.in_(task_ids)))}


async def open_task_for_lead(session: AsyncSession, lead_id: int) -> RoutingTask | None:
    return await session.scalar(_OPEN_TASK_OF_LEAD, {"lead_id": lead_id})


# Built once: every close asks it, and building the statement cost more than running it.
_OPEN_TASK_OF_LEAD = select(RoutingTask).where(RoutingTask.lead_id == bindparam("lead_id"),
                                               RoutingTask.state.in_(OPEN_TASK_STATES)).limit(1)


async def tasks_of_lead(session: AsyncSession, lead_id: int) -> list[RoutingTask]:
    """Every task the lead ever had, oldest first: its routing story."""
    return list(await session.scalars(select(RoutingTask).where(RoutingTask.lead_id == lead_id)
                                      .order_by(RoutingTask.created_at)))


async def reprioritize_waiting(session: AsyncSession, lead_id: int, priority: int) -> str | None:
    """Store a lead's new priority on its waiting task (kept across restarts); the task's id, if one waits."""
    row = await session.scalar(select(RoutingTask).where(RoutingTask.lead_id == lead_id,
                                                         RoutingTask.state.in_(("pending", "reserved"))).limit(1))
    if row is None:
        return None
    row.priority = priority
    return row.id


async def record_offer(session: AsyncSession, offer_id: str, task_id: str, agent_id: int, created: datetime,
                       expires: datetime, explanation: Mapping[str, Any]) -> None:
    session.add(Reservation(id=offer_id, task_id=task_id, agent_id=agent_id, created_at=created,
                            expires_at=expires, outcome="pending", decided_at=None,
                            explanation=dict(explanation)))


async def close_offer(session: AsyncSession, offer_id: str, outcome: str, at: datetime) -> None:
    await session.execute(update(Reservation).where(Reservation.id == offer_id, Reservation.outcome == "pending")
                          .values(outcome=outcome, decided_at=at))


async def offer_made(session: AsyncSession, offer_id: str, task_id: str, agent_id: int, created: datetime,
                     expires: datetime, explanation: Mapping[str, Any], at: datetime) -> None:
    """Routing reserved a task for an agent: the offer, the task's state and the lead's audit trail."""
    await record_offer(session, offer_id, task_id, agent_id, created, expires, explanation)
    await set_task_state(session, task_id, "reserved", at)
    audit.record(session, "lead.offered", at, user_id=agent_id, lead_id=lead_of_task(task_id),
                 detail={"offer_id": offer_id})


async def offer_accepted(session: AsyncSession, offer_id: str, task_id: str, agent_id: int, at: datetime) -> None:
    """The agent took the task: the offer closes, the task and its lead are theirs."""
    await close_offer(session, offer_id, "accepted", at)
    await set_task_state(session, task_id, "assigned", at, agent_id)
    await tasks.follow_routing_task(session, task_id, agent_id, at)     # a callback's task is the taker's
    lead_id = lead_of_task(task_id)
    if lead_id is not None:
        await leads.assign(session, lead_id, agent_id, at)
        audit.record(session, "lead.accepted", at, user_id=agent_id, lead_id=lead_id)
    await session.flush()


async def offers_of_task(session: AsyncSession, task_id: str) -> list[Reservation]:
    return list(await session.scalars(select(Reservation).where(Reservation.task_id == task_id)
                                      .order_by(Reservation.created_at)))


async def offers_today(session: AsyncSession, since: datetime) -> dict[tuple[int, str], int]:
    """Offers per (agent, outcome) since `since`: handled and missed counts for the wallboard."""
    rows = await session.execute(
        select(Reservation.agent_id, Reservation.outcome, func.count())
        .where(Reservation.created_at >= since).group_by(Reservation.agent_id, Reservation.outcome))
    return {(agent_id, outcome): count for agent_id, outcome, count in rows}


def add_task_row(session: AsyncSession | Session, task_id: str, *, lead_id: int | None, kind: str, channel: str,
                       queue: str, priority: int, owner_id: int | None, created_at: datetime,
                       skills: Mapping[str, int] | None = None) -> None:
    """A task that no inbound event created in ingest: a callback, a call in progress."""
    session.add(RoutingTask(id=task_id, lead_id=lead_id, kind=kind, channel=channel, queue=queue,
                            priority=priority, skills=dict(skills or {}), owner_id=owner_id, state="pending",
                            created_at=created_at, sla_deadline=None, assigned_at=None, finished_at=None))


@dataclass(frozen=True, slots=True)
class StoredTask:
    """An unfinished task as the database knows it, for comparing with routing's live state."""

    id: str
    state: str
    lead_open: bool     # False once its lead was closed or deleted: routing must let it go


async def unfinished_tasks(session: AsyncSession) -> list[StoredTask]:
    """Open tasks (indexed by state) with whether their lead is still open, oldest first.

    Columns, not ORM objects: the sweeper reads every waiting task every pass, and with a backlog of thousands
    (a night's form leads) building the objects was ~5% of the loop thread's time under intake load."""
    lead_open = and_(Lead.deleted_at.is_(None), Lead.status.in_([s.value for s in OPEN_STATUSES]))
    rows = await session.execute(
        select(RoutingTask.id, RoutingTask.state, Lead.id.is_(None) | lead_open)
        .outerjoin(Lead, Lead.id == RoutingTask.lead_id)
        .where(RoutingTask.state.in_(OPEN_TASK_STATES))
        .order_by(RoutingTask.created_at, RoutingTask.id))
    return [StoredTask(task_id, state, bool(is_open)) for task_id, state, is_open in rows]


async def task_states(session: AsyncSession, task_ids: Collection[str]) -> dict[str, str]:
    """The stored state of each task id (missing ids are not stored)."""
    if not task_ids:
        return {}
    rows = await session.execute(select(RoutingTask.id, RoutingTask.state).where(RoutingTask.id.in_(task_ids)))
    return {task_id: state for task_id, state in rows}


async def adopt_assignment(session: AsyncSession, task_id: str, agent_id: int, at: datetime) -> None:
    """Routing assigned the task but the accept never reached the database: the database follows.

    Nothing happens if the task is no longer waiting here (the accept arrived after all, or it ended)."""
    state = await session.scalar(select(RoutingTask.state).where(RoutingTask.id == task_id).with_for_update())
    if state not in ("pending", "reserved"):
        return
    offer = await session.scalar(select(Reservation.id).where(
        Reservation.task_id == task_id, Reservation.agent_id == agent_id, Reservation.outcome == "pending"))
    await session.execute(update(Reservation).where(
        Reservation.task_id == task_id, Reservation.outcome == "pending", Reservation.id != (offer or ""))
        .values(outcome="rescinded", decided_at=at))
    if offer is not None:
        await offer_accepted(session, offer, task_id, agent_id, at)
    else:
        await set_task_state(session, task_id, "assigned", at, agent_id)
        lead_id = lead_of_task(task_id)
        if lead_id is not None:
            await leads.assign(session, lead_id, agent_id, at)


async def end_stale_offers(session: AsyncSession, task_id: str, keep: Collection[str], at: datetime) -> None:
    """Offers still pending here that routing no longer holds (it lost the task): rescinded."""
    await session.execute(update(Reservation).where(Reservation.task_id == task_id, Reservation.outcome == "pending",
                                                    Reservation.id.not_in(list(keep)))
                          .values(outcome="rescinded", decided_at=at))
