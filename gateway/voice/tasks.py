"""Routing tasks that calls make: the callback owed to a client we missed, and the call on an operator's phone."""
from __future__ import annotations

from datetime import datetime

from crm_store import routing_log
from crm_store.calls import CALLBACK
from crm_store.session import Sessions
from crm_store.task_refs import PhoneTask
from gateway.mapping import phone_skill
from gateway.routing.ports import TaskRouting
from routing.types import Task
from vocabulary.channels import VOICE

PHONE_PRIORITY = 1000


async def settle_callback(sessions: Sessions, routing: TaskRouting, lead_id: int) -> str | None:
    """The client was reached (a call answered, a reply sent): the callback owed to them is done."""
    async with sessions() as session:
        row = await routing_log.open_task_for_lead(session, lead_id)
    if row is None or row.kind != CALLBACK:
        return None
    await routing.end_task(row.id)
    return row.id


async def occupy_phone(routing: TaskRouting, *, call_id: str, user_id: int, now: datetime) -> PhoneTask:
    """The operator is talking on their phone: a voice task only they can take, taken at once (not stored)."""
    ref = PhoneTask(call_id, user_id)
    await routing.add_task(Task(id=ref.encode(), channel=VOICE, priority=PHONE_PRIORITY, queue="default",
                                required_skills={phone_skill(user_id): 1}, owner=str(user_id),
                                created=now.timestamp()))
    return ref
