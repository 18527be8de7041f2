"""Routing tasks that calls make: the callback owed to a client we missed, and the call on an operator's phone."""
from __future__ import annotations

from datetime import datetime

from crm_store.task_refs import PhoneTask
from gateway.mapping import phone_skill
from gateway.routing.ports import TaskRouting
from routing.types import Task
from vocabulary.channels import VOICE

PHONE_PRIORITY = 1000


async def occupy_phone(routing: TaskRouting, *, call_id: str, user_id: int, now: datetime) -> PhoneTask:
    """The operator is talking on their phone: a voice task only they can take, taken at once (not stored)."""
    ref = PhoneTask(call_id, user_id)
    await routing.add_task(Task(id=ref.encode(), channel=VOICE, priority=PHONE_PRIORITY, queue="default",
                                required_skills={phone_skill(user_id): 1}, owner=str(user_id),
                                created=now.timestamp()))
    return ref
