"""Leads as people see them: who may see which, the card, the pipeline's rules, soft deletion."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from crm_store import call_grants, card_rows, fields, lead_changes, pipelines, search
from crm_store.contacts import suggestion_in_reach
from crm_store.errors import Conflict, Forbidden, Invalid, NotFound, found
from crm_store.models import Contact, Identity, Interaction, Lead, MergeSuggestion, User
from crm_store.stage_sync import ACTOR, stage_rules
from crm_store.types import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    LeadChanges,
    LeadFilter,
    LeadStatus,
    Permissions,
    Viewer,
)

def visible(viewer: Viewer) -> ColumnElement[bool]:
    """Operators and managers see their own and their team's leads; supervisors and admins all.

    The work nobody has taken is listed to them too (`_pool_of`), but its card, files and calls open
    only once they take it.
    """
    if viewer.role.sees_everything:
        return true()
    mine = or_(Lead.assignee_id == viewer.user_id, Lead.owner_id == viewer.user_id)
    if viewer.team_id is not None:
        return or_(mine, Lead.team_id == viewer.team_id)
    return mine


def sees(viewer: Viewer, lead: Lead) -> bool:
    """`visible(viewer)` of a lead already loaded: no second statement to ask it of the database."""
    if viewer.role.sees_everything or is_own(viewer, lead):
        return True
    return viewer.team_id is not None and lead.team_id == viewer.team_id


def _pool_of(viewer: Viewer) -> ColumnElement[bool]:
    """Open leads nobody has taken, in the viewer's team or in no team yet (supervisors: all)."""
    waiting = and_(Lead.assignee_id.is_(None), Lead.status.in_(OPEN_STATUSES))
    if viewer.role.sees_everything:
        return waiting
    teams = or_(Lead.team_id.is_(None), Lead.team_id == viewer.team_id) if viewer.team_id is not None \
        else Lead.team_id.is_(None)
    return and_(waiting, teams)


async def counts(session: AsyncSession, viewer: Viewer) -> dict[str, int]:
    """The console's tabs: my open leads, the open leads nobody has taken that I may take, (supervisors) all open."""
    live = Lead.deleted_at.is_(None)
    mine = await session.scalar(select(func.count()).select_from(Lead).where(
        live, Lead.assignee_id == viewer.user_id, Lead.status.in_(OPEN_STATUSES)))
    pool = await session.scalar(select(func.count()).select_from(Lead).where(live, _pool_of(viewer)))
    found = {"mine": int(mine or 0), "unassigned": int(pool or 0)}
    if viewer.role.sees_everything:     # supervisors' third tab: every open lead
        found["all"] = int(await session.scalar(select(func.count()).select_from(Lead).where(
            live, Lead.status.in_(OPEN_STATUSES))) or 0)
    return found


async def takeable(session: AsyncSession, viewer: Viewer, lead_id: int) -> Lead:
    """The lead if `viewer` may take it now: open, nobody's, in their pool; Conflict if someone was first."""
    lead = await session.get(Lead, lead_id)
    if lead is None or lead.deleted_at is not None:
        raise NotFound(f"lead {lead_id} not found")
    if lead.assignee_id is not None:
        raise Conflict(f"lead {lead_id} was already taken by someone else", "lead_id")
    if lead.status not in OPEN_STATUSES:
        raise Conflict(f"lead {lead_id} is {lead.status}: there is nothing to take", "status")
    allowed = await session.scalar(select(true()).where(Lead.id == lead_id, _pool_of(viewer)))
    if not allowed:
        raise Forbidden(f"lead {lead_id} waits in another team's queue")
    return lead


async def claim(session: AsyncSession, lead_id: int, user_id: int, now: datetime) -> dict[str, Any]:
    """Take a lead that has no routing task: the row itself is the reservation, one taker wins.

    Run it first in its own transaction: the conditional UPDATE is what makes two takers safe.
    """
    taken = await session.execute(update(Lead).where(Lead.id == lead_id, Lead.assignee_id.is_(None),
                                                     Lead.deleted_at.is_(None))
                                  .values(assignee_id=user_id, assigned_at=now))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"lead {lead_id} was already taken by someone else", "lead_id")
    lead = await session.get(Lead, lead_id, populate_existing=True)
    assert lead is not None
    edit = _Edit(lead)
    edit.diff["assignee_id"] = [None, user_id]
    await _assign(session, lead, user_id, edit.put, now)
    lead.updated_at = now
    return edit.diff


def is_own(viewer: Viewer, lead: Lead) -> bool:
    return viewer.user_id in (lead.assignee_id, lead.owner_id)


async def list_leads(session: AsyncSession, viewer: Viewer, f: LeadFilter) -> list[Lead]:
    dialect = session.bind.dialect.name
    where: list[ColumnElement[bool]] = [Lead.deleted_at.is_(None), _pool_of(viewer) if f.pool else visible(viewer)]
    if f.status:
        wanted = Lead.status.in_(f.status)
        # SQLite has no statistics unless ANALYZE ran, and then guesses a status matches a few rows: it would
        # read every open lead and sort them for one page (60,000 at a million leads). likely() tells it the
        # filter keeps most rows, so it walks the newest-first index and stops at the page (bench/bigdb.py).
        where.append(func.likely(wanted) if dialect == "sqlite" else wanted)
    if f.channel:
        where.append(Lead.channel.in_(f.channel))
    if f.assignee_id is not None:
        where.append(Lead.assignee_id == f.assignee_id)
    if f.unassigned:
        where.append(Lead.assignee_id.is_(None))
    if f.before is not None:
        at, last_id = f.before
        where.append(or_(Lead.last_activity_at < at, and_(Lead.last_activity_at == at, Lead.id < last_id)))
    limit = min(f.limit, 200)
    query = select(Lead).where(*where)
    order: list[Any] = []
    if f.q:
        wanted = search.Query.of(f.q, f.q_phone, f.q_email)
        stmt = search.exact_contacts_stmt(wanted)
        exact = list(await session.scalars(stmt)) if stmt is not None else []
        # The filters go into the search too: the newest matches this viewer may see, not of everyone's.
        query = query.where(search.matching(dialect, wanted, exact, where, search.candidate_count(f.offset, limit)))
        if exact:   # the very phone or e-mail asked for comes before everything that merely contains it
            order.append(case((Lead.contact_id.in_(exact), 0), else_=1))
    query = query.order_by(*order, Lead.last_activity_at.desc(), Lead.id.desc()).limit(limit).offset(f.offset)
    return list(await session.scalars(query))


async def contact_summaries(session: AsyncSession, contact_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Name and first identity per contact: enough for a line in a list."""
    if not contact_ids:
        return {}
    rows = await session.execute(select(Contact.id, Contact.display_name).where(Contact.id.in_(contact_ids)))
    names = {contact_id: name for contact_id, name in rows}
    first: dict[int, tuple[str, str]] = {}
    for contact_id, kind, value in await session.execute(
            select(Identity.contact_id, Identity.kind, Identity.value)
            .where(Identity.contact_id.in_(contact_ids)).order_by(Identity.id)):
        first.setdefault(contact_id, (kind, value))
    return {cid: {"id": cid, "display_name": names.get(cid),
                  "identity": dict(zip(("kind", "value"), first[cid], strict=True)) if cid in first else None}
            for cid in contact_ids}


async def get_visible(session: AsyncSession, viewer: Viewer, lead_id: int) -> Lead:
    return await session.run_sync(visible_lead, viewer, lead_id)


async def just_checked(session: AsyncSession, lead_id: int) -> Lead:
    """The lead `update_lead` checked and changed in this session: the very object, no second check or read."""
    held = session.info.get(_CHECKED, {}).get(lead_id)
    return held if held is not None else found(await session.get(Lead, lead_id), f"lead {lead_id} not found")


# update_lead's leads, held for just_checked: the session keeps only a weak reference to a row with no change
# left to flush, and a lead dropped meanwhile was read again.
_CHECKED = "leads_just_checked"


def visible_lead(session: Session, viewer: Viewer, lead_id: int) -> Lead:
    """The lead if `viewer` may see it; NotFound / Forbidden otherwise."""
    lead = _lead(session, lead_id)
    if lead is None or lead.deleted_at is not None:
        raise NotFound(f"lead {lead_id} not found")
    if viewer.role.sees_everything or sees(viewer, lead):
        return lead
    if not call_grants.rang_for(session, viewer.user_id, lead_id):
        raise Forbidden(f"lead {lead_id} belongs to someone else")
    return lead


def _lead(session: Session, lead_id: int) -> Lead | None:
    """`session.get(Lead, lead_id)`, without building get's statement anew (every close reads its lead, and the
    building took as long as the read): a lead the session holds as get gives it, else the statement built once."""
    if session.identity_map.get(identity_key(Lead, lead_id)) is not None:
        return session.get(Lead, lead_id)
    return session.scalars(_LEAD_BY_ID, {"lead_id": lead_id}).first()


_LEAD_BY_ID = select(Lead).where(Lead.id == bindparam("lead_id"))


@dataclass(frozen=True, slots=True)
class Card:
    lead: Lead
    contact: Contact
    identities: list[Identity]
    timeline: list[Interaction]
    other_open_leads: list[Lead]
    users: dict[int, User]
    merge_suggestions: list[MergeSuggestion]
    earlier_leads: list[Lead]        # the client's finished leads, newest first: outcomes are kept, not erased
    summary_rows: card_rows.SummaryRows | None = None   # the glance (crm_store.lead_cards.card_summary)


async def card(session: AsyncSession, viewer: Viewer, lead_id: int, *, timeline_limit: int = 200) -> Card:
    """Everything the screen shows about a lead, in a few queries."""
    return await session.run_sync(card_sync, viewer, lead_id, timeline_limit)


def card_sync(session: Session, viewer: Viewer, lead_id: int, timeline_limit: int = 200) -> Card:
    """The card on a synchronous session: also read in one worker thread where a pop cannot wait for seven hops."""
    lead = visible_lead(session, viewer, lead_id)
    contact = session.get(Contact, lead.contact_id)
    assert contact is not None  # foreign key
    identities = list(session.scalars(select(Identity).where(Identity.contact_id == contact.id).order_by(Identity.id)))
    timeline = list(session.scalars(select(Interaction).where(Interaction.lead_id == lead.id)
                                    .order_by(Interaction.created_at.desc(), Interaction.id.desc())
                                    .limit(timeline_limit)))
    siblings = list(session.scalars(select(Lead).where(
        Lead.contact_id == contact.id, Lead.id != lead.id, Lead.deleted_at.is_(None), visible(viewer))
        .order_by(Lead.id.desc()).limit(100)))
    others = [x for x in siblings if x.status in OPEN_STATUSES]
    earlier = [x for x in siblings if x.status not in OPEN_STATUSES]
    suggestions = list(session.scalars(select(MergeSuggestion).where(
        MergeSuggestion.status == "pending", *suggestion_in_reach(viewer),
        or_(MergeSuggestion.contact_a_id == contact.id, MergeSuggestion.contact_b_id == contact.id))))
    glance = card_rows.read(session, viewer, lead, visible)
    user_ids = {i for i in (lead.owner_id, lead.assignee_id, contact.owner_id) if i is not None} | glance.people
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    return Card(lead, contact, identities, list(reversed(timeline)), others, users, suggestions, earlier, glance)


async def update_lead(
    session: AsyncSession, viewer: Viewer, lead_id: int, changes: LeadChanges, perms: Permissions, now: datetime,
) -> dict[str, Any]:
    """Apply `changes` under the pipeline rules; returns what changed as {field: [old, new]}."""
    lead = await get_visible(session, viewer, lead_id)
    if not is_own(viewer, lead) and viewer.role not in perms.edit_others:
        raise Forbidden(f"your role may not edit lead {lead_id}, which is not yours")
    session.info.setdefault(_CHECKED, {})[lead_id] = lead
    edit = _Edit(lead)
    diff, put = edit.diff, edit.put
    if changes.assignee_id is not None or changes.unassign:
        if viewer.role not in perms.assign and changes.assignee_id != viewer.user_id:
            raise Forbidden("your role may only assign leads to yourself", "assignee_id")
        await _assign(session, lead, None if changes.unassign else changes.assignee_id, put, now)
    lead_changes.put_own_columns(changes, put)
    if changes.fields:
        current = dict(lead.attributes.get("fields") or {})
        merged = await fields.checked_values(session, fields.Entity.LEAD, changes.fields, current)
        if merged != current:
            diff["fields"] = [current, merged]
            lead.attributes = {**lead.attributes, "fields": merged}
    session.info[ACTOR] = viewer.user_id      # the stage history names who moved the lead
    if changes.stage_id is not None or changes.pipeline_id is not None:
        stage = await pipelines.target_stage(session, lead, changes.pipeline_id, changes.stage_id)
        if stage.id != lead.stage_id:
            why = pipelines.Entering(changes.lost_reason, changes.lost_reason_code, changes.outcome,
                                     changes.handed_over_to)
            pipelines.enter(lead, stage, why, put, now)
    elif changes.status is not None and changes.status != lead.status:
        required = await session.run_sync(fields.lead_requirements, tuple(s.value for s in CLOSED_STATUSES))
        for status, names in changes.required_fields.items():
            required[status] = tuple(dict.fromkeys((*required.get(status, ()), *names)))
        lead_changes.transition(lead, changes, put, now, required)
        before = lead.stage_id
        lead.updated_at = now       # in the same UPDATE, and the stage history's time (stage_sync) is now
        await session.flush()       # the stage follows the status (stage_sync); its rules hold for this way in too
        if lead.stage_id != before and lead.stage_id is not None and lead.pipeline_id is not None:
            pipeline_id, stage_id = lead.pipeline_id, lead.stage_id
            stage = await session.run_sync(lambda s: stage_rules(s, pipeline_id, stage_id))
            if stage is not None:
                pipelines.check_entry(lead, stage)
            diff["stage_id"] = [before, lead.stage_id]
    if diff and lead.updated_at != now:
        # Only when it differs: set again after a status change's flush, the same value made the next
        # statement's autoflush run a whole flush that had nothing to write (a close asks for its open task).
        lead.updated_at = now
    if "notes" in diff or "subject" in diff:
        await session.flush()
        await session.run_sync(search.refresh, (), (lead.id,))
    return diff


async def assign(session: AsyncSession, lead_id: int, user_id: int, now: datetime) -> dict[str, Any]:
    """Assign on behalf of routing (an accepted offer): no viewer rules, the offer was the permission."""
    lead = await session.get(Lead, lead_id)
    if lead is None or lead.deleted_at is not None:
        raise NotFound(f"lead {lead_id} not found")
    edit = _Edit(lead)
    await _assign(session, lead, user_id, edit.put, now)
    lead.updated_at = now
    return edit.diff


async def assign_if_unassigned(session: AsyncSession, lead_id: int, user_id: int, now: datetime) -> Lead:
    """Give a lead its first assignee (a lead staff entered by hand is theirs)."""
    lead = found(await session.get(Lead, lead_id), f"lead {lead_id} not found")
    if lead.assignee_id is None:
        await assign(session, lead_id, user_id, now)
    return lead


class _Edit:
    """Changes to one lead, remembered as {field: [old, new]} for the audit log."""

    def __init__(self, lead: Lead) -> None:
        self.lead = lead
        self.diff: dict[str, Any] = {}

    def put(self, name: str, value: object) -> None:
        old = getattr(self.lead, name)
        if old != value:
            self.diff[name] = [lead_changes.plain(old), lead_changes.plain(value)]
            setattr(self.lead, name, value)


async def _assign(session: AsyncSession, lead: Lead, assignee_id: int | None, put: Any, now: datetime) -> None:
    if assignee_id is None:
        lead.assigned_at = None
        put("assignee_id", None)
        if lead.status == LeadStatus.ASSIGNED:
            put("status", LeadStatus.NEW.value)
        return
    user = await session.get(User, assignee_id)
    if user is None or not user.active:
        raise Invalid(f"user {assignee_id} does not exist or is inactive", "assignee_id")
    if lead.assignee_id != user.id:
        lead.assigned_at = now
    put("assignee_id", user.id)
    put("team_id", user.team_id)
    if lead.status == LeadStatus.NEW:
        put("status", LeadStatus.ASSIGNED.value)
    contact = await session.get(Contact, lead.contact_id)
    if contact is not None and contact.owner_id is None:
        # The first manager to take a client becomes the one the client is pinned to.
        contact.owner_id = user.id
        if lead.owner_id is None:
            put("owner_id", user.id)


async def delete_lead(session: AsyncSession, viewer: Viewer, lead_id: int, perms: Permissions, now: datetime) -> Lead:
    """Soft-delete: the row and its history stay for the audit trail."""
    lead = await get_visible(session, viewer, lead_id)
    if viewer.role not in perms.delete:
        raise Forbidden("your role may not delete leads")
    if not is_own(viewer, lead) and viewer.role not in perms.delete_others:
        raise Forbidden(f"your role may not delete lead {lead_id}, which is not yours")
    lead.deleted_at = now
    lead.updated_at = now
    return lead
