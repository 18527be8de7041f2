"""The client's page: everything about one person across all their leads, and the edits made there.

Who may open the page is `reach.contact_seen_by`; what it shows is cut to what the viewer sees: the
leads of another team are neither listed nor on the timeline. A phone or an e-mail that already
identifies another client is refused with a Conflict naming that client, never merged silently:
merging is the merge suggestions' job, where a manager decides.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import search
from crm_store.errors import Conflict, Invalid, NotFound
from crm_store.fields import Entity, checked_values
from crm_store.leads import get_visible
from crm_store.models import Company, Contact, ContactCompany, Identity, Interaction, Lead, User
from crm_store.reach import contact_seen_by, lead_seen_by
from crm_store.types import Viewer
from vocabulary.channels import VOICE

IDENTITY_KINDS = ("phone", "email", "telegram", "whatsapp", "viber")
MESSENGER_ID = re.compile(r"[A-Za-z0-9_@.+=:-]{1,100}")
TAG_LIMIT, TAGS_PER_CLIENT = 40, 50
STAFF_CONFIDENCE = "stated"       # typed in by staff: as strong as what the client said of themselves


@dataclass(frozen=True, slots=True)
class ClientPage:
    contact: Contact
    identities: list[Identity]
    companies: list[tuple[Company, str | None]]      # and the client's position there
    leads: list[Lead]                                # all the viewer sees, past and present, newest first
    users: dict[int, User]


async def seen_contact(session: AsyncSession, viewer: Viewer, contact_id: int, *, lock: bool = False) -> Contact:
    """The contact if `viewer` may open its page; NotFound otherwise (another team's client does not exist for them)."""
    allowed = await session.scalar(select(true()).where(contact_seen_by(viewer, contact_id)))
    contact = await session.get(Contact, contact_id, with_for_update=lock) if allowed else None
    if contact is None:
        raise NotFound(f"client {contact_id} not found")
    return contact


async def page(session: AsyncSession, viewer: Viewer, contact_id: int) -> ClientPage:
    contact = await seen_contact(session, viewer, contact_id)
    identities = list(await session.scalars(select(Identity).where(Identity.contact_id == contact_id)
                                            .order_by(Identity.id)))
    companies = [(company, position) for company, position in await session.execute(
        select(Company, ContactCompany.position).join(ContactCompany, ContactCompany.company_id == Company.id)
        .where(ContactCompany.contact_id == contact_id, Company.deleted_at.is_(None)).order_by(Company.name))]
    leads = await client_leads(session, viewer, contact_id)
    wanted = {contact.owner_id} | {x.owner_id for x in leads} | {x.assignee_id for x in leads}
    wanted.discard(None)
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
    return ClientPage(contact, identities, companies, leads, users)


async def client_leads(session: AsyncSession, viewer: Viewer, contact_id: int) -> list[Lead]:
    """Every lead of the client the viewer sees, open and finished, newest first."""
    return list(await session.scalars(select(Lead).where(
        Lead.contact_id == contact_id, Lead.deleted_at.is_(None), lead_seen_by(viewer))
        .order_by(Lead.created_at.desc(), Lead.id.desc()).limit(500)))


async def timeline(session: AsyncSession, viewer: Viewer, contact_id: int, *, limit: int = 50,
                   offset: int = 0) -> tuple[list[Interaction], bool]:
    """One page of the client's timeline across all their leads and channels, newest first; and whether
    there is more."""
    await seen_contact(session, viewer, contact_id)
    rows = list(await session.scalars(
        select(Interaction).join(Lead, Lead.id == Interaction.lead_id)
        .where(Interaction.contact_id == contact_id, Lead.deleted_at.is_(None), lead_seen_by(viewer))
        .order_by(Interaction.created_at.desc(), Interaction.id.desc()).limit(limit + 1).offset(offset)))
    return rows[:limit], len(rows) > limit


async def users_named(session: AsyncSession, ids: set[int]) -> dict[int, User]:
    ids = {i for i in ids if isinstance(i, int)}
    return {u.id: u for u in await session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}


# -- edits ------------------------------------------------------------------------------------------

def _tags(given: Sequence[str]) -> list[str]:
    tags: list[str] = []
    for raw in given:
        tag = " ".join(raw.split())
        if not tag:
            continue
        if len(tag) > TAG_LIMIT:
            raise Invalid(f"a tag is at most {TAG_LIMIT} characters", "tags")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > TAGS_PER_CLIENT:
        raise Invalid(f"a client has at most {TAGS_PER_CLIENT} tags", "tags")
    return tags


async def update_contact(session: AsyncSession, viewer: Viewer, contact_id: int, now: datetime, *,
                         display_name: str | None = None, tags: Sequence[str] | None = None,
                         fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Change the client's name, tags and custom fields; returns {what: [old, new]} for the audit log."""
    contact = await seen_contact(session, viewer, contact_id, lock=True)
    diff: dict[str, Any] = {}
    if display_name is not None:
        name = " ".join(display_name.split()) or None
        if name != contact.display_name:
            diff["display_name"] = [contact.display_name, name]
            contact.display_name = name
    if tags is not None:
        new_tags = _tags(tags)
        if new_tags != list(contact.tags or []):
            diff["tags"] = [list(contact.tags or []), new_tags]
            contact.tags = new_tags
    if fields:
        merged = await checked_values(session, Entity.CONTACT, fields, contact.custom or {})
        if merged != (contact.custom or {}):
            diff["fields"] = [dict(contact.custom or {}), merged]
            contact.custom = merged
    if diff:
        contact.updated_at = now
        if "display_name" in diff:
            await session.flush()
            await session.run_sync(search.refresh, (contact_id,))
    return diff


def check_identity(kind: str, value: str) -> None:
    """Messenger ids are taken as given, within reason; phones and e-mails come normalised by the caller."""
    if kind not in IDENTITY_KINDS:
        raise Invalid(f"kind is one of {', '.join(IDENTITY_KINDS)}", "kind")
    if kind not in ("phone", "email") and not MESSENGER_ID.fullmatch(value):
        raise Invalid(f"a {kind} id is up to 100 letters, digits or _@.+=:-", "value")


async def _free(session: AsyncSession, viewer: Viewer, contact_id: int, kind: str, value: str,
                keep: int | None = None) -> None:
    owner = await session.scalar(select(Identity).where(Identity.kind == kind, Identity.value == value))
    if owner is None or owner.id == keep:
        return
    if owner.contact_id == contact_id:
        raise Conflict(f"{value} is already this client's {kind}", "value")
    other = await session.scalar(select(Contact).where(Contact.id == owner.contact_id,
                                                       contact_seen_by(viewer, owner.contact_id)))
    if other is None:
        # Its existence cannot be hidden (a value identifies one client), but whose it is can.
        raise Conflict(f"{value} belongs to another client, one you cannot see; a supervisor can merge the two",
                       "value")
    raise Conflict(f"{value} belongs to client {other.id} ({other.display_name or 'no name'}); "
                   "merge the two clients instead of moving it", "value")


async def add_identity(session: AsyncSession, viewer: Viewer, contact_id: int, kind: str, value: str,
                       now: datetime) -> Identity:
    check_identity(kind, value)
    contact = await seen_contact(session, viewer, contact_id, lock=True)
    await _free(session, viewer, contact_id, kind, value)
    row = Identity(contact_id=contact_id, kind=kind, value=value, confidence=STAFF_CONFIDENCE, created_at=now)
    session.add(row)
    contact.updated_at = now
    await session.flush()
    await session.run_sync(search.refresh, (contact_id,))
    return row


async def _identity_of(session: AsyncSession, viewer: Viewer, contact_id: int, identity_id: int) -> tuple[Contact, Identity]:
    contact = await seen_contact(session, viewer, contact_id, lock=True)
    row = await session.get(Identity, identity_id)
    if row is None or row.contact_id != contact_id:
        raise NotFound(f"identity {identity_id} of client {contact_id} not found")
    return contact, row


async def change_identity(session: AsyncSession, viewer: Viewer, contact_id: int, identity_id: int, value: str,
                          now: datetime) -> tuple[Identity, str]:
    """A corrected value (same kind); returns the row and its old value."""
    contact, row = await _identity_of(session, viewer, contact_id, identity_id)
    check_identity(row.kind, value)
    await _free(session, viewer, contact_id, row.kind, value, keep=row.id)
    old = row.value
    row.value, row.confidence = value, STAFF_CONFIDENCE
    contact.updated_at = now
    await session.flush()
    await session.run_sync(search.refresh, (contact_id,))
    return row, old


async def remove_identity(session: AsyncSession, viewer: Viewer, contact_id: int, identity_id: int,
                          now: datetime) -> Identity:
    contact, row = await _identity_of(session, viewer, contact_id, identity_id)
    await session.delete(row)
    contact.updated_at = now
    await session.flush()
    await session.run_sync(search.refresh, (contact_id,))
    return row


# -- calls on the timeline ----------------------------------------------------------------------------

async def staff_of_calls(session: AsyncSession, items: Sequence[Interaction]) -> tuple[dict[int, User], dict[str, User]]:
    """The users the calls name, by id and by the extension they sit at."""
    calls = [i.attributes or {} for i in items if i.channel == VOICE]
    ids = {a.get("answered_by") for a in calls} | {i.author_id for i in items}
    extensions = {e for a in calls for e in (a.get("extension"), a.get("answered_extension")) if isinstance(e, str)}
    by_id = await users_named(session, {i for i in ids if isinstance(i, int)})
    by_extension = {u.extension: u for u in await session.scalars(select(User).where(User.extension.in_(extensions)))
                    if u.extension} if extensions else {}
    return by_id, by_extension


async def call_recording(session: AsyncSession, viewer: Viewer, call_id: int) -> tuple[Interaction, str]:
    """The call (its record on the timeline) and the recording's name as the PBX gave it, if `viewer` may
    see the call's lead (its phone rang for it counts); NotFound when there is no such call or recording."""
    item = await session.get(Interaction, call_id)
    if item is None or item.channel != VOICE:
        raise NotFound(f"call {call_id} not found")
    await get_visible(session, viewer, item.lead_id)
    name = (item.attributes or {}).get("recording")
    if not isinstance(name, str) or not name:
        raise NotFound(f"call {call_id} has no recording")
    return item, name


async def identity_kind(session: AsyncSession, viewer: Viewer, contact_id: int, identity_id: int) -> str:
    """The kind of one of the client's identities (a correction is read as that kind)."""
    _, row = await _identity_of(session, viewer, contact_id, identity_id)
    return row.kind
