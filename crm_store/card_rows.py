"""The rows a glance at a client needs (companies, deals with their stages, the last contacts, open tasks).

Read within what one viewer may see: a pop is shown to whoever's phone rings, so it carries nothing of leads
beyond the popped lead's team (`reach_of`); `crm_store.lead_cards.card_summary` shapes them.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, case, func, select
from sqlalchemy.orm import Session

from crm_store.models import Company, ContactCompany, Interaction, Lead, Stage, Task
from crm_store.prepared import Prepared
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
    """`visible` is `crm_store.leads.visible` (passed in: leads imports this module)."""
    return read_many(session, viewer, [lead], visible)[lead.id]


def read_many(session: Session, viewer: Viewer, leads: Sequence[Lead],
              visible: Callable[[Viewer], ColumnElement[bool]]) -> dict[int, SummaryRows]:
    """The glance of each lead, as `viewer` (each narrowed by `reach_of`) sees it: four SELECTs for them all.

    Each lead's own reach decides what it shows, so the rows of the leads' clients are read once and sorted
    out here: whether a lead is in a reach is asked of the database (`visible`, one column per reach)."""
    return read_many_with_kin(session, viewer, leads, visible)[0]


def read_many_with_kin(session: Session, viewer: Viewer, leads: Sequence[Lead],
                       visible: Callable[[Viewer], ColumnElement[bool]]
                       ) -> tuple[dict[int, SummaryRows], dict[int, list[Lead]]]:
    """`read_many`, and every live lead of the leads' clients by client (in no particular order): the rows
    the glance read anyway, which the card's other leads are drawn from too (`crm_store.routing_batch`)."""
    if not leads:
        return {}, {}
    distinct = tuple(dict.fromkeys(reach_of(viewer, lead) for lead in leads))
    kin: dict[int, list[tuple[Lead, Stage | None]]] = {}
    seen_by: dict[int, set[Viewer]] = {}
    for row in session.execute(_kin(distinct, visible), {"ids": list({lead.contact_id for lead in leads})}):
        seen_by[row[0].id] = {reach for n, reach in enumerate(distinct) if row[2 + n]}
        kin.setdefault(row[0].contact_id, []).append((row[0], row[1]))
    out = summaries(session, viewer, leads, kin, lambda reach, row: reach in seen_by[row.id], objects=True)
    return out, {contact_id: [row for row, _ in rows] for contact_id, rows in kin.items()}


@dataclass(frozen=True, slots=True)
class _Statements:
    """The glance's other reads as ORM objects (the API's card); routing's read rows of the shown columns."""

    recent: Select[Any]
    open_tasks: Select[Any]


def summaries(session: Session, viewer: Viewer, leads: Sequence[Any], kin: Mapping[int, Sequence[tuple[Any, Any]]],
              in_reach: Callable[[Viewer, Any], bool], objects: bool = False) -> dict[int, SummaryRows]:
    """The glance of each lead from its clients' live leads (`kin`: by client, newest activity first, each with
    its stage), `in_reach(reach, lead)` telling whether a reach sees one of them; three SELECTs for the rest.
    `objects`: contacts and tasks as ORM objects (the API's card), else as rows of the columns shown."""
    reaches = {lead.id: reach_of(viewer, lead) for lead in leads}
    contact_ids = list({lead.contact_id for lead in leads})
    ids = {"ids": contact_ids}
    if objects:
        found, open_tasks = session.scalars(_OBJECTS.recent, ids), list(session.scalars(_OBJECTS.open_tasks, ids))
        companies = session.execute(_COMPANIES, ids).all()
    else:
        connection = session.connection()
        found, open_tasks = _RECENT.fetch(connection, ids), _OPEN_TASKS.fetch(connection, ids)
        companies = _SHOWN_COMPANIES.fetch(connection, ids)
    recent: dict[int, list[Any]] = {}
    for item in found:
        recent.setdefault(item.contact_id, []).append(item)
    # How often the client was in touch, counted up to 2, from the same rows: they hold up to RECENT of every
    # lead's contacts (and of those on no lead), so a client with two contacts or more has two rows or more.
    counted = {contact_id: min(len(items), 2) for contact_id, items in recent.items()}
    out = {}
    for lead in leads:
        reach = reaches[lead.id]
        siblings = [(row, stage) for row, stage in kin.get(lead.contact_id, [])
                    if row.id == lead.id or in_reach(reach, row)][:100]
        reachable = {row.id for row, _ in siblings} | {lead.id}
        deals = [row for row, _ in siblings if row.status in OPEN_STATUSES][:20]
        stages = {stage.id: stage for _, stage in siblings if stage is not None}
        mine = [i for i in recent.get(lead.contact_id, []) if i.lead_id in reachable]
        mine.sort(key=lambda i: (i.created_at, i.id), reverse=True)
        last = mine[:RECENT]
        seen = len(last) if len(last) >= 2 else counted.get(lead.contact_id, 0)
        tasks = [t for t in open_tasks if t.contact_id == lead.contact_id and _task_in_reach(t, reach, reachable)]
        names = [name for contact_id, name, team in companies if contact_id == lead.contact_id
                 and (reach.role.sees_everything or team is None or team == reach.team_id)]
        people = {*(d.owner_id for d in deals), *(d.assignee_id for d in deals), *(t.assignee_id for t in tasks[:TASKS]),
                  *(i.attributes.get("answered_by") for i in last), *(i.author_id for i in last)}
        out[lead.id] = SummaryRows(names, deals, stages, last, tasks[:TASKS],
                                   frozenset(p for p in people if isinstance(p, int)), min(seen, 2))
    return out


def _task_in_reach(task: Task, reach: Viewer, reachable: set[int]) -> bool:
    if task.lead_id in reachable:
        return True
    if reach.role.sees_everything:
        return task.lead_id is None
    return reach.user_id != ROUTING_USER and task.assignee_id == reach.user_id


@functools.lru_cache(maxsize=256)
def _kin(reaches: tuple[Viewer, ...], visible: Callable[[Viewer], ColumnElement[bool]]) -> Select[Any]:
    """The clients' leads with their stages, and for each reach whether it sees them (a column each).
    Kept per set of reaches: routing's reads meet the same few (a new lead's, each agent's) again and again."""
    return (select(Lead, Stage, *(case((visible(reach), 1), else_=0).label(f"in_reach_{n}")
                                  for n, reach in enumerate(reaches)))
            .outerjoin(Stage, Stage.id == Lead.stage_id)
            .where(Lead.contact_id.in_(bindparam("ids", expanding=True)), Lead.deleted_at.is_(None))
            .order_by(Lead.last_activity_at.desc(), Lead.id.desc()))


def _recent_of_clients(*columns: Any) -> Select[Any]:
    """The last RECENT contacts of each lead of the clients: every lead's glance picks its newest from them."""
    t = Interaction.__table__      # the table's columns: with no mapped class named, plain rows skip the ORM
    order = (t.c.created_at.desc(), t.c.id.desc())
    ranked = select(t.c.id.label("rid"), func.row_number().over(
        partition_by=(t.c.contact_id, t.c.lead_id), order_by=order).label("n")).where(
        t.c.contact_id.in_(bindparam("ids", expanding=True)), t.c.channel != SYSTEM).subquery()
    return select(*columns).join(ranked, ranked.c.rid == t.c.id).where(ranked.c.n <= RECENT).order_by(*order)


def _open_tasks(*columns: Any) -> Select[Any]:
    t = Task.__table__
    return (select(*columns).where(t.c.contact_id.in_(bindparam("ids", expanding=True)), t.c.state == "open")
            .order_by(t.c.due_at, t.c.id))


def _shown(model: Any, *names: str) -> list[Any]:
    return [model.__table__.c[name] for name in names]


# Built once (the ids are expanding parameters): a glance is read after nearly every routing outcome, often
# for one lead, and building and keying its statements cost more than running them.
_OBJECTS = _Statements(_recent_of_clients(Interaction), _open_tasks(Task))
_LINKS, _FIRMS = ContactCompany.__table__, Company.__table__
_COMPANIES = (select(_LINKS.c.contact_id, _FIRMS.c.name, _FIRMS.c.team_id)
              .join(_LINKS, _LINKS.c.company_id == _FIRMS.c.id)
              .where(_LINKS.c.contact_id.in_(bindparam("ids", expanding=True)), _FIRMS.c.deleted_at.is_(None))
              .order_by(_FIRMS.c.name))
# What the glance shows of a contact and a task (crm_store.lead_cards.card_summary), and what placing them reads:
# routing's, run on SQLite's driver itself in the writer thread (crm_store.prepared).
_RECENT = Prepared(_recent_of_clients(*_shown(Interaction, "id", "lead_id", "contact_id", "channel", "direction",
                                               "subject", "text", "attributes", "author_id", "delivery", "created_at")))
_OPEN_TASKS = Prepared(_open_tasks(*_shown(Task, "id", "lead_id", "contact_id", "kind", "origin", "due_at", "note",
                                           "assignee_id")))
_SHOWN_COMPANIES = Prepared(_COMPANIES)
