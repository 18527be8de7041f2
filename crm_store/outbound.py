"""Replies managers send: stored on the timeline before sending, their delivery recorded after."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.errors import Invalid, NotFound, found
from crm_store.models import Interaction, Lead
from crm_store.types import Direction, LeadStatus


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where a reply to a lead goes: the latest inbound message on a channel that can answer."""

    channel: str
    to: str
    thread_ref: str | None
    subject: str | None
    attributes: dict[str, Any]


async def reply_target(session: AsyncSession, lead_id: int, channels: frozenset[str]) -> ReplyTarget:
    last = await session.scalar(
        select(Interaction).where(Interaction.lead_id == lead_id, Interaction.direction == Direction.INBOUND,
                                  Interaction.channel.in_(channels))
        .order_by(Interaction.created_at.desc(), Interaction.id.desc()).limit(1))
    if last is None:
        raise Invalid("this lead has no message on a channel that can be answered from here", "channel")
    to = last.attributes.get("source_id")
    if not to:
        raise Invalid("the client's address on this channel is unknown", "channel")
    return ReplyTarget(last.channel, to, last.thread_ref, last.subject, dict(last.attributes))


async def record_reply(session: AsyncSession, lead_id: int, target: ReplyTarget, event_id: str, text: str,
                       subject: str | None, author_id: int, attributes: dict[str, Any], now: datetime) -> Interaction:
    """The outbound message, in state `sending`: a crash before delivery leaves a visible trace."""
    lead = await session.get(Lead, lead_id)
    if lead is None or lead.deleted_at is not None:
        raise NotFound(f"lead {lead_id} not found")
    item = Interaction(lead_id=lead_id, contact_id=lead.contact_id, channel=target.channel, event_id=event_id,
                       direction=Direction.OUTBOUND, text=text, subject=subject, thread_ref=target.thread_ref,
                       attributes=attributes, author_id=author_id, delivery="sending", created_at=now)
    session.add(item)
    lead.last_activity_at = max(lead.last_activity_at, now)
    lead.updated_at = now
    if lead.status in (LeadStatus.NEW, LeadStatus.ASSIGNED):
        lead.status = LeadStatus.IN_PROGRESS      # the first answer puts the lead in progress
    await session.flush()
    return item


async def record_delivery(session: AsyncSession, interaction_id: int, ok: bool, provider_id: str | None,
                          error: str | None) -> None:
    item = found(await session.get(Interaction, interaction_id), f"interaction {interaction_id} not found")
    item.delivery = "sent" if ok else "failed"
    item.attributes = {**item.attributes, "provider_id": provider_id, "error": error}
