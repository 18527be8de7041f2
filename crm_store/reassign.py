"""A lead whose assignee has not answered in time goes back to routing, with its history and the reason."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import audit, routing_log
from crm_store.models import Interaction, Lead, RoutingTask
from crm_store.response_waits import Waiting, mark_once
from crm_store.types import Direction


@dataclass(frozen=True, slots=True)
class Reassigned:
    lead_id: int
    previous_assignee: int
    task: RoutingTask
    ended: tuple[str, ...]      # the routing tasks the silent assignee held: routing lets them go


async def back_to_routing(session: AsyncSession, wait: Waiting, at: datetime, reason: str,
                          priority: int = 1) -> Reassigned | None:
    """Unassign the silent assignee and queue a new routing task (without an owner, so someone else is asked
    first); None if the lead changed meanwhile or this wait was already reassigned (by any process)."""
    lead = await session.get(Lead, wait.lead_id)
    if lead is None or lead.assignee_id is None or lead.assignee_id != wait.assignee_id \
            or lead.assigned_at != wait.assigned_at:
        return None
    # Once per wait and hand-over: the next assignee, silent in turn on the same wait, may be reassigned too.
    handed = wait.assigned_at.isoformat() if wait.assigned_at is not None else "-"
    if not await mark_once(session, lead.id, "reassigned", f"{wait.interaction_id}@{handed}", at):
        return None
    previous = lead.assignee_id
    held = tuple(await session.scalars(select(RoutingTask.id).where(
        RoutingTask.lead_id == lead.id, RoutingTask.state.in_(routing_log.OPEN_TASK_STATES))))
    await session.execute(update(RoutingTask).where(RoutingTask.id.in_(held)).values(state="completed", finished_at=at))
    lead.assignee_id, lead.assigned_at, lead.updated_at = None, None, at
    note = Interaction(lead_id=lead.id, contact_id=lead.contact_id, channel="system",
                       event_id=f"reassigned:{lead.id}:{wait.interaction_id}@{handed}",
                       direction=Direction.INTERNAL.value,
                       text=reason, subject=None, thread_ref=None, author_id=None, created_at=at,
                       attributes={"action": "reassigned", "actor": audit.SYSTEM_ACTOR, "from": previous})
    session.add(note)
    await session.flush()
    task_id = routing_log.task_id_for(lead.id, note.id)
    routing_log.add_task_row(session, task_id, lead_id=lead.id, kind="lead", channel=wait.channel, queue=wait.queue,
                             priority=max(priority, lead.priority), owner_id=None, created_at=at)
    audit.record_system(session, "lead.reassigned", at, lead_id=lead.id, reason=reason, previous_assignee=previous)
    await session.flush()
    task = await session.get(RoutingTask, task_id)
    assert task is not None
    return Reassigned(lead.id, previous, task, held)
