"""Routing tasks that calls make: the callback owed to a client we missed, and the call on an operator's phone."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_store import routing_log
from crm_store.models import Lead
from gateway.dispatch import PHONE_TASK_PREFIX, Dispatcher
from gateway.mapping import phone_skill
from routing.types import Task

CALLBACK = "callback"
VOICE = "voice"
PHONE_PRIORITY = 1000


async def owe_callback(sessions: async_sessionmaker[AsyncSession], dispatcher: Dispatcher, *, lead_id: int,
                       interaction_id: int, queue: str, priority: int, now: datetime) -> tuple[str | None, bool]:
    """A callback task for the lead, offered owner-first; (task id, True) if one was already open (collapsed)."""
    async with sessions() as session, session.begin():
        existing = await routing_log.open_task_for_lead(session, lead_id)
        if existing is not None:
            # One open task per lead: a second missed call adds to the callback owed (or to the work already
            # under way on the lead), it does not queue another.
            return existing.id, True
        lead = await session.get(Lead, lead_id)
        owner = lead.owner_id if lead is not None else None
        task_id = routing_log.task_id_for(lead_id, interaction_id)
        await routing_log.add_task_row(session, task_id, lead_id=lead_id, kind=CALLBACK, channel=VOICE, queue=queue,
                                       priority=priority, owner_id=owner, created_at=now)
    await dispatcher.add_task(Task(id=task_id, channel=VOICE, priority=priority, queue=queue,
                                   owner=str(owner) if owner is not None else None, created=now.timestamp()))
    return task_id, False


async def settle_callback(sessions: async_sessionmaker[AsyncSession], dispatcher: Dispatcher, lead_id: int) -> str | None:
    """The client was reached (a call answered, a reply sent): the callback owed to them is done."""
    async with sessions() as session:
        row = await routing_log.open_task_for_lead(session, lead_id)
    if row is None or row.kind != CALLBACK:
        return None
    await dispatcher.end_task(row.id)
    return row.id


async def occupy_phone(sessions: async_sessionmaker[AsyncSession], dispatcher: Dispatcher, *, call_id: str,
                       user_id: int, lead_id: int | None, now: datetime) -> str:
    """The operator is talking on their phone: a voice task only they can take, taken at once."""
    task_id = f"{PHONE_TASK_PREFIX}{call_id}:{user_id}"[:100]
    async with sessions() as session, session.begin():
        await routing_log.add_task_row(session, task_id, lead_id=lead_id, kind="call", channel=VOICE, queue="default",
                                       priority=PHONE_PRIORITY, owner_id=user_id, created_at=now,
                                       skills={phone_skill(user_id): 1})
    await dispatcher.add_task(Task(id=task_id, channel=VOICE, priority=PHONE_PRIORITY, queue="default",
                                   required_skills={phone_skill(user_id): 1}, owner=str(user_id),
                                   created=now.timestamp()))
    return task_id
