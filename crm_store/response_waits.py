"""What response clocks read: the client's messages still waiting for a person's answer, per lead.

A person's answer is an outbound interaction with an author on the same channel; calls are left out
(a call is answered or it leaves a callback task). System messages (an automatic answer) have no author.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.models import Interaction, Lead, LeadFlag, RoutingTask, Task
from crm_store.types import OPEN_STATUSES
from vocabulary.channels import VOICE


@dataclass(frozen=True, slots=True)
class Waiting:
    """The client wrote at `since` on `channel` (interaction `interaction_id`) and nobody has answered yet."""

    lead_id: int
    channel: str
    since: datetime
    interaction_id: int
    first: bool            # no person has answered on this lead before: the first-response target applies
    queue: str
    assignee_id: int | None
    assigned_at: datetime | None = None     # when that assignee got the lead (None: unknown, before 0005)

    @property
    def silent_since(self) -> datetime:
        """Whence the assignee's silence counts: the later of the hand-over and the start of the wait."""
        return max(self.since, self.assigned_at) if self.assigned_at is not None else self.since


async def waiting(session: AsyncSession, lead_ids: Collection[int] | None = None) -> dict[int, Waiting]:
    """Open leads (all, or these) whose client waits for an answer, with when the wait began."""
    query = select(Interaction.lead_id, Interaction.id, Interaction.channel, Interaction.direction,
                   Interaction.author_id, Interaction.created_at).join(Lead, Lead.id == Interaction.lead_id).where(
        Lead.deleted_at.is_(None), Lead.status.in_([s.value for s in OPEN_STATUSES]), Interaction.channel != VOICE,
        or_(Interaction.direction == "inbound", and_(Interaction.direction == "outbound",
                                                     Interaction.author_id.is_not(None))))
    if lead_ids is not None:
        if not lead_ids:
            return {}
        query = query.where(Interaction.lead_id.in_(list(lead_ids)))
    found: dict[int, tuple[str, datetime, int] | None] = {}
    answered: set[int] = set()
    for lead_id, item_id, channel, direction, _author, at in await session.execute(
            query.order_by(Interaction.lead_id, Interaction.created_at, Interaction.id)):
        if direction == "inbound":
            if found.get(lead_id) is None:
                found[lead_id] = (channel, at, item_id)
        elif found.get(lead_id) is not None and found[lead_id][0] == channel:    # type: ignore[index]
            found[lead_id] = None
            answered.add(lead_id)
        else:
            answered.add(lead_id)
    open_ids = [lead_id for lead_id, value in found.items() if value is not None]
    if not open_ids:
        return {}
    queues = await queues_of(session, open_ids)
    assignees = {lead_id: (assignee, at) for lead_id, assignee, at in await session.execute(
        select(Lead.id, Lead.assignee_id, Lead.assigned_at).where(Lead.id.in_(open_ids)))}
    return {lead_id: Waiting(lead_id, value[0], value[1], value[2], lead_id not in answered,
                             queues.get(lead_id, "default"), *assignees.get(lead_id, (None, None)))
            for lead_id, value in found.items() if value is not None}


async def queues_of(session: AsyncSession, lead_ids: Collection[int]) -> dict[int, str]:
    """The queue of each lead's latest routing task (a lead never routed has none: the default queue's rules)."""
    lead_ids = list(lead_ids)
    if not lead_ids:
        return {}
    latest = select(RoutingTask.lead_id, func.max(RoutingTask.created_at).label("at")).where(
        RoutingTask.lead_id.in_(lead_ids), RoutingTask.kind != "call").group_by(RoutingTask.lead_id).subquery()
    rows = await session.execute(select(RoutingTask.lead_id, RoutingTask.queue).join(
        latest, and_(latest.c.lead_id == RoutingTask.lead_id, latest.c.at == RoutingTask.created_at)))
    return {lead_id: queue for lead_id, queue in rows if lead_id is not None}


async def mark_once(session: AsyncSession, lead_id: int, name: str, ref: str, at: datetime) -> bool:
    """Record that `name` was done for (lead, ref); False if it already was (by this or another process)."""
    exists = await session.scalar(select(LeadFlag.id).where(LeadFlag.lead_id == lead_id, LeadFlag.name == name,
                                                            LeadFlag.ref == ref))
    if exists is not None:
        return False
    session.add(LeadFlag(lead_id=lead_id, name=name, ref=ref, at=at))
    await session.flush()       # the unique key refuses a second process's flag: its transaction fails
    return True


async def forgotten(session: AsyncSession, idle_since: datetime, limit: int = 500) -> list[Lead]:
    """Open leads someone works, idle since before `idle_since` (wall-clock: callers then count business hours),
    with no open task; the longest idle first."""
    open_task = select(Task.id).where(Task.lead_id == Lead.id, Task.state == "open").exists()
    return list(await session.scalars(select(Lead).where(
        Lead.deleted_at.is_(None), Lead.status.in_([s.value for s in OPEN_STATUSES]),
        Lead.assignee_id.is_not(None), Lead.last_activity_at < idle_since, ~open_task)
        .order_by(Lead.last_activity_at, Lead.id).limit(limit)))


async def record_auto_answer(session: AsyncSession, lead_id: int, channel: str, to: str, thread_ref: str | None,
                             event_id: str, text: str, at: datetime) -> Interaction:
    """The after-hours answer on the timeline: outbound with no author, so it stops no response clock."""
    lead = await session.get(Lead, lead_id)
    assert lead is not None
    item = Interaction(lead_id=lead_id, contact_id=lead.contact_id, channel=channel, event_id=event_id,
                       direction="outbound", text=text, subject=None, thread_ref=thread_ref,
                       attributes={"auto_answer": True, "to": to}, author_id=None, delivery="sending", created_at=at)
    session.add(item)
    await session.flush()
    return item
