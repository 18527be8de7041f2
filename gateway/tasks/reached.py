"""The client was reached (a call answered, a reply sent, a message answered): what was owed to them is done."""
from __future__ import annotations

from datetime import datetime

from crm_store import routing_log, tasks
from crm_store.calls import CALLBACK
from crm_store.session import Sessions
from gateway.routing.ports import TaskRouting


async def client_reached(sessions: Sessions, routing: TaskRouting | None, lead_id: int, channel: str,
                         at: datetime) -> list[int]:
    """Close the client's open call, message and e-mail tasks and end the callbacks routing holds; the tasks closed."""
    async with sessions() as session, session.begin():
        closed = await session.run_sync(lambda s: tasks.close_reached(
            s, [c for c in [tasks.contact_of_lead(s, lead_id)] if c is not None], channel, at))
        row = await routing_log.open_task_for_lead(session, lead_id)
    ending = {c.routing_task_id for c in closed if c.routing_task_id}
    if row is not None and row.kind == CALLBACK:
        ending.add(row.id)
    if routing is not None:
        for task_id in sorted(ending):
            await routing.end_task(task_id)
    return [c.task_id for c in closed]
