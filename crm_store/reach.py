"""Which clients a member of staff may act on as a whole: merge, see suggested as duplicates.

A lead is seen by its assignee, its owner and its team (`leads.visible`). A client (contact) is
within someone's reach when nothing of it belongs elsewhere: every lead of the client is one they
see, and the client's owner, if any, is them or in their team. Supervisors and admins reach all.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select, true

from crm_store.models import Contact, Lead, User
from crm_store.types import Viewer


def _lead_hidden_from(viewer: Viewer) -> ColumnElement[bool]:
    """NULL-safe: a lead without a team or an owner is hidden unless it is the viewer's by name."""
    hidden = and_(Lead.assignee_id.is_distinct_from(viewer.user_id), Lead.owner_id.is_distinct_from(viewer.user_id))
    if viewer.team_id is not None:
        hidden = and_(hidden, Lead.team_id.is_distinct_from(viewer.team_id))
    return hidden


def _owned_elsewhere(viewer: Viewer) -> ColumnElement[bool]:
    other = User.id != viewer.user_id
    if viewer.team_id is not None:
        other = and_(other, User.team_id.is_distinct_from(viewer.team_id))
    return other


def contact_in_reach(viewer: Viewer, contact_id: ColumnElement[int] | int) -> ColumnElement[bool]:
    """SQL that is true when the contact `contact_id` (a column or a value) is all within `viewer`'s reach."""
    if viewer.role.sees_everything:
        return true()
    foreign_lead = exists(select(Lead.id).where(Lead.contact_id == contact_id, _lead_hidden_from(viewer)))
    foreign_owner = exists(select(Contact.id).join(User, User.id == Contact.owner_id)
                           .where(Contact.id == contact_id, _owned_elsewhere(viewer)))
    return and_(not_(foreign_lead), not_(foreign_owner))


def lead_seen_by(viewer: Viewer) -> ColumnElement[bool]:
    """The leads `viewer` sees (as `leads.visible`, which this module cannot import)."""
    return true() if viewer.role.sees_everything else not_(_lead_hidden_from(viewer))


def contact_seen_by(viewer: Viewer, contact_id: ColumnElement[int] | int) -> ColumnElement[bool]:
    """SQL true when `viewer` may open the client's page: they see one of its leads, or the client is
    theirs or their team's. What the page then shows of it is only what they see (its other leads are left out)."""
    if viewer.role.sees_everything:
        return true()
    seen_lead = exists(select(Lead.id).where(Lead.contact_id == contact_id, Lead.deleted_at.is_(None),
                                             lead_seen_by(viewer)))
    mine = Contact.owner_id == viewer.user_id
    if viewer.team_id is not None:
        mine = or_(mine, User.team_id == viewer.team_id)
    owned = exists(select(Contact.id).outerjoin(User, User.id == Contact.owner_id).where(Contact.id == contact_id, mine))
    return or_(seen_lead, owned)
