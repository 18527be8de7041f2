"""Rows a batch creates, written with one multi-row INSERT per table.

The ORM's unit of work costs far more per object than the INSERT itself; new rows in a batch
are plain values instead, inserted with Core and given their ids back by `public_id`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.models import Contact, Identity, Interaction, Lead


@dataclass(slots=True, eq=False)
class NewContact:
    display_name: str | None
    created_at: datetime
    owner_id: int | None = None
    id: int | None = None
    public_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(slots=True, eq=False)
class NewLead:
    """Has the attributes lead-joining reads, so new and stored leads are chosen alike."""

    contact: Contact | NewContact
    status: str
    priority: int
    channel: str
    source: dict[str, Any]
    attributes: dict[str, Any]
    subject: str | None
    owner_id: int | None
    team_id: int | None
    last_activity_at: datetime
    assignee_id: int | None = None
    closed_at: datetime | None = None
    id: int | None = None
    public_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(slots=True, eq=False)
class NewInteraction:
    lead: Lead | NewLead
    contact: Contact | NewContact
    values: dict[str, Any]
    id: int | None = None
    public_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(slots=True)
class NewRows:
    contacts: list[NewContact] = field(default_factory=list)
    leads: list[NewLead] = field(default_factory=list)
    interactions: list[NewInteraction] = field(default_factory=list)
    identities: list[tuple[Contact | NewContact, str, str, str]] = field(default_factory=list)

    async def insert(self, session: AsyncSession, now: datetime) -> None:
        """Insert everything in dependency order, filling in the new ids."""
        await _insert(session, Contact, self.contacts, lambda c: {
            "display_name": c.display_name, "owner_id": c.owner_id, "created_at": now, "updated_at": now})
        await _insert(session, Lead, self.leads, lambda lead: {
            "contact_id": lead.contact.id, "status": lead.status, "priority": lead.priority,
            "channel": lead.channel, "source": lead.source, "attributes": lead.attributes,
            "subject": lead.subject, "notes": "", "owner_id": lead.owner_id, "team_id": lead.team_id,
            "created_at": now, "updated_at": now, "last_activity_at": lead.last_activity_at})
        await _insert(session, Interaction, self.interactions, lambda i: {
            **i.values, "lead_id": i.lead.id, "contact_id": i.contact.id})
        if self.identities:
            await session.execute(insert(Identity), [
                {"contact_id": contact.id, "kind": kind, "value": value, "confidence": confidence,
                 "created_at": now} for contact, kind, value, confidence in self.identities])


async def _insert(session: AsyncSession, model: Any, items: list[Any], values: Any) -> None:
    if not items:
        return
    rows = await session.execute(
        insert(model).returning(model.public_id, model.id),
        [{**values(item), "public_id": item.public_id} for item in items],
    )
    ids = {public_id: row_id for public_id, row_id in rows}
    for item in items:
        item.id = ids[item.public_id]
