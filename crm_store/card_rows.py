"""The rows a glance at a client needs (companies, deals with their stages, the last contacts, open tasks).

Read within what one viewer may see: a pop is shown to whoever's phone rings, so it carries nothing of leads
beyond the popped lead's team (`reach_of`); `crm_store.lead_cards.card_summary` shapes them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from crm_store.models import Company, ContactCompany, Interaction, Lead, Stage, Task
from crm_store.types import OPEN_STATUSES, Role, Viewer

RECENT = 5          # the last contacts on any channel
TASKS = 5
ROUTING_USER = 0    # the viewer a pop is read as (gateway.routing.cards.ROUTING)
SYSTEM = "system"        # notes the service wrote itself (a reopened lead): not a contact with the client


@dataclass(frozen=True, slots=True)
class SummaryRows:
    companies: list[str]
    deals: list[Lead]                     # the client's open leads in reach, this one included
    stages: dict[int, Stage]
    recent: list[Interaction]             # newest first, across the client's leads in reach
    tasks: list[Task]                     # open, soonest first
    people: frozenset[int]                # users it names (owners, who answered, assignees): read with the card's
    seen: int                             # the client's contacts, counted up to 2: one (this one) is a new client


def reach_of(viewer: Viewer, lead: Lead) -> Viewer:
    """Routing reads pops as an all-seeing viewer; what a pop shows is what the popped lead's team may see."""
    if viewer.user_id == ROUTING_USER and viewer.role.sees_everything:
        return Viewer(user_id=lead.assignee_id or lead.owner_id or ROUTING_USER, role=Role.OPERATOR,
                      team_id=lead.team_id)
    return viewer


def read(session: Session, viewer: Viewer, lead: Lead, visible: Callable[[Viewer], ColumnElement[bool]]) -> SummaryRows:
    """`visible` is `crm_store.leads.visible` (passed in: leads imports this module). Five queries: a pop waits."""
    reach = reach_of(viewer, lead)
    siblings = session.execute(
        select(Lead, Stage).outerjoin(Stage, Stage.id == Lead.stage_id)
        .where(Lead.contact_id == lead.contact_id, Lead.deleted_at.is_(None), or_(Lead.id == lead.id, visible(reach)))
        .order_by(Lead.last_activity_at.desc(), Lead.id.desc()).limit(100)).all()
    reachable = {row.id for row, _ in siblings} | {lead.id}
    deals = [row for row, _ in siblings if row.status in OPEN_STATUSES][:20]
    stages = {stage.id: stage for _, stage in siblings if stage is not None}
    recent = list(session.scalars(select(Interaction).where(
        Interaction.contact_id == lead.contact_id, Interaction.lead_id.in_(reachable), Interaction.channel != SYSTEM)
        .order_by(Interaction.created_at.desc(), Interaction.id.desc()).limit(RECENT)))
    seen = len(recent) if len(recent) >= 2 else len(list(session.scalars(select(Interaction.id).where(
        Interaction.contact_id == lead.contact_id, Interaction.channel != SYSTEM).limit(2))))
    task_reach = [Task.lead_id.in_(reachable)]
    if reach.role.sees_everything:
        task_reach.append(Task.lead_id.is_(None))
    elif reach.user_id != ROUTING_USER:
        task_reach.append(Task.assignee_id == reach.user_id)
    tasks = list(session.scalars(select(Task).where(Task.contact_id == lead.contact_id, Task.state == "open",
                                                    or_(*task_reach)).order_by(Task.due_at, Task.id).limit(TASKS)))
    companies = [name for name, team in session.execute(
        select(Company.name, Company.team_id).join(ContactCompany, ContactCompany.company_id == Company.id)
        .where(ContactCompany.contact_id == lead.contact_id, Company.deleted_at.is_(None)).order_by(Company.name))
        if reach.role.sees_everything or team is None or team == reach.team_id]
    people = {*(d.owner_id for d in deals), *(d.assignee_id for d in deals), *(t.assignee_id for t in tasks),
              *(i.attributes.get("answered_by") for i in recent), *(i.author_id for i in recent)}
    return SummaryRows(companies, deals, stages, recent, tasks, frozenset(p for p in people if isinstance(p, int)),
                       min(seen, 2))
