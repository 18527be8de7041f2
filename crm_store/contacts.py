"""Contact merges a manager confirms, and their exact undo; each within the decider's reach.

A suggestion, a merge or an undo that touches a client of another team does not exist for the
caller: it is not listed, and acting on it is "not found", never "forbidden", so its existence
(and the other team's client behind it) is not revealed either.
"""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import search
from crm_store.errors import Conflict, NotFound
from crm_store.models import Contact, ContactCompany, ContactMerge, Identity, Interaction, Lead, MergeSuggestion
from crm_store.reach import contact_in_reach
from crm_store.types import Viewer


async def pending_suggestions(session: AsyncSession, viewer: Viewer, limit: int = 100) -> list[MergeSuggestion]:
    return list(await session.scalars(
        select(MergeSuggestion).where(MergeSuggestion.status == "pending", *suggestion_in_reach(viewer))
        .order_by(MergeSuggestion.id).limit(limit)))


def suggestion_in_reach(viewer: Viewer) -> tuple[ColumnElement[bool], ...]:
    return (contact_in_reach(viewer, MergeSuggestion.contact_a_id),
            contact_in_reach(viewer, MergeSuggestion.contact_b_id))


async def _reaches(session: AsyncSession, viewer: Viewer, *contact_ids: int) -> bool:
    if viewer.role.sees_everything:
        return True
    return bool(await session.scalar(select(and_(*(contact_in_reach(viewer, c) for c in contact_ids)))))


async def decide_suggestion(
    session: AsyncSession, viewer: Viewer, suggestion_id: int, accept: bool, now: datetime,
    survivor_id: int | None = None,
) -> ContactMerge | None:
    """Accept (merge the pair) or reject a suggestion; a decided suggestion cannot be decided again."""
    suggestion = await session.get(MergeSuggestion, suggestion_id, with_for_update=True)
    if suggestion is None or not await _reaches(session, viewer, suggestion.contact_a_id, suggestion.contact_b_id):
        raise NotFound(f"merge suggestion {suggestion_id} not found")
    if suggestion.status != "pending":
        raise Conflict(f"merge suggestion {suggestion_id} is already {suggestion.status}")
    suggestion.status = "accepted" if accept else "rejected"
    suggestion.decided_by, suggestion.decided_at = viewer.user_id, now
    if not accept:
        return None
    pair = {suggestion.contact_a_id, suggestion.contact_b_id}
    survivor = survivor_id if survivor_id in pair else min(pair)
    return await merge(session, survivor, (pair - {survivor}).pop(), viewer.user_id, now)


async def merge(session: AsyncSession, survivor_id: int, merged_id: int, user_id: int | None,
                now: datetime) -> ContactMerge:
    """Move everything of `merged_id` onto `survivor_id`, remembering what moved."""
    if survivor_id == merged_id:
        raise Conflict("a contact cannot be merged into itself")
    survivor = await session.get(Contact, survivor_id, with_for_update=True)
    merged = await session.get(Contact, merged_id, with_for_update=True)
    if survivor is None or merged is None:
        raise NotFound("contact not found")
    if survivor.merged_into_id is not None or merged.merged_into_id is not None:
        raise Conflict("one of these contacts has already been merged away")
    moved = {
        "identities": list(await session.scalars(select(Identity.id).where(Identity.contact_id == merged_id))),
        "leads": list(await session.scalars(select(Lead.id).where(Lead.contact_id == merged_id))),
        "interactions": list(await session.scalars(select(Interaction.id).where(Interaction.contact_id == merged_id))),
    }
    for model, ids in ((Identity, moved["identities"]), (Lead, moved["leads"]), (Interaction, moved["interactions"])):
        if ids:
            await session.execute(update(model).where(model.id.in_(ids)).values(contact_id=survivor_id))
    # The companies the merged client belonged to and the survivor did not: undone exactly like the rest.
    kept = select(ContactCompany.company_id).where(ContactCompany.contact_id == survivor_id)
    moved["companies"] = list(await session.scalars(select(ContactCompany.company_id).where(
        ContactCompany.contact_id == merged_id, ContactCompany.company_id.not_in(kept))))
    if moved["companies"]:
        await session.execute(update(ContactCompany).where(ContactCompany.contact_id == merged_id,
                                                           ContactCompany.company_id.in_(moved["companies"]))
                              .values(contact_id=survivor_id))
    record = ContactMerge(survivor_id=survivor_id, merged_id=merged_id, moved=moved,
                          previous_owner_id=survivor.owner_id, by_user_id=user_id, created_at=now, undone_at=None)
    session.add(record)
    if survivor.owner_id is None:
        survivor.owner_id = merged.owner_id
    if not survivor.display_name:
        survivor.display_name = merged.display_name
    merged.merged_into_id = survivor_id
    survivor.updated_at = merged.updated_at = now
    await session.flush()
    await session.run_sync(search.refresh, (survivor_id, merged_id))
    return record


async def undo_merge(session: AsyncSession, viewer: Viewer, merge_id: int, now: datetime) -> ContactMerge:
    """Put back exactly what the merge moved; what arrived since stays with the survivor."""
    record = await session.get(ContactMerge, merge_id, with_for_update=True)
    if record is None or not await _reaches(session, viewer, record.survivor_id, record.merged_id):
        raise NotFound(f"merge {merge_id} not found")
    if record.undone_at is not None:
        raise Conflict(f"merge {merge_id} was already undone")
    later = await session.scalar(select(ContactMerge.id).where(
        ContactMerge.id > merge_id, ContactMerge.undone_at.is_(None),
        or_(ContactMerge.merged_id == record.survivor_id, ContactMerge.survivor_id == record.merged_id)))
    if later is not None:
        raise Conflict(f"undo merge {later} first: it builds on this one")
    for model, key in ((Identity, "identities"), (Lead, "leads"), (Interaction, "interactions")):
        ids = record.moved.get(key, [])
        if ids:
            await session.execute(update(model).where(model.id.in_(ids), model.contact_id == record.survivor_id)
                                  .values(contact_id=record.merged_id))
    companies = record.moved.get("companies", [])
    if companies:
        await session.execute(update(ContactCompany).where(ContactCompany.contact_id == record.survivor_id,
                                                           ContactCompany.company_id.in_(companies))
                              .values(contact_id=record.merged_id))
    survivor = await session.get(Contact, record.survivor_id)
    merged = await session.get(Contact, record.merged_id)
    assert survivor is not None and merged is not None  # foreign keys
    survivor.owner_id = record.previous_owner_id
    merged.merged_into_id = None
    survivor.updated_at = merged.updated_at = now
    record.undone_at = now
    await session.flush()
    await session.run_sync(search.refresh, (record.survivor_id, record.merged_id))
    await session.execute(update(MergeSuggestion).where(
        MergeSuggestion.status == "accepted",
        or_((MergeSuggestion.contact_a_id == record.survivor_id) & (MergeSuggestion.contact_b_id == record.merged_id),
            (MergeSuggestion.contact_a_id == record.merged_id) & (MergeSuggestion.contact_b_id == record.survivor_id)),
    ).values(status="pending", decided_by=None, decided_at=None))
    return record


async def identities_out_of_reach(session: AsyncSession, viewer: Viewer,
                                  claims: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which `(kind, value)` pairs already identify a client that is not all within `viewer`'s reach."""
    if viewer.role.sees_everything or not claims:
        return set()
    rows = await session.execute(
        select(Identity.kind, Identity.value).where(
            or_(*(and_(Identity.kind == kind, Identity.value == value) for kind, value in claims)),
            ~contact_in_reach(viewer, Identity.contact_id)))
    return {(kind, value) for kind, value in rows}
