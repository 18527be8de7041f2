"""The cards routing's frames carry, read for a whole batch of leads as plain rows.

Routing reads a card for nearly every offer and every accept (two a lead), inside the writer's transaction. As
ORM objects that read cost more than the writes it follows: every column of every row built into an object
and every JSON column decoded (a client's tags and custom fields, a user's skills and capacity, a stage's
required fields: none of them shown). Here each SELECT names only the columns the card shows
(`gateway.api.serialize.card_json`, `crm_store.lead_cards.card_summary`), its statements are built once, and the
rows are Core rows, which those read by attribute just as they read the objects.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from crm_store import card_rows
from crm_store.leads import Card, sees
from crm_store.models import Contact, Identity, Interaction, Lead, MergeSuggestion, Stage, User
from crm_store.prepared import Prepared
from crm_store.types import OPEN_STATUSES, Role, Viewer

# Routing reads as an all-seeing viewer; each pop's glance is narrowed to its lead's team (card_rows.reach_of).
ROUTING_VIEWER = Viewer(user_id=card_rows.ROUTING_USER, role=Role.ADMIN, team_id=None)
KIN = 101      # a client's live leads a card looks at (this one among them), newest first: 100 others at most


@dataclass(frozen=True, slots=True)
class ShownContact:
    id: int
    display_name: str | None
    owner_id: int | None


@dataclass(frozen=True, slots=True)
class ShownStage:
    id: int
    name: str
    kind: str


def cards_of(session: Session, lead_ids: Iterable[int], timeline_limit: int = 20) -> dict[int, Card]:
    """The cards of the live ones of `lead_ids` (the offer is the permission: no viewer rules), eight SELECTs for all."""
    ids = list(set(lead_ids))
    if not ids:
        return {}
    kin: dict[int, list[Any]] = {}          # every live lead of the clients, newest activity first
    contacts: dict[int, ShownContact] = {}
    stages: dict[int, ShownStage] = {}
    leads: dict[int, Any] = {}
    wanted = set(ids)
    connection = session.connection()
    for row in _KIN.fetch(connection, {"ids": ids}):
        kin.setdefault(row.contact_id, []).append(row)
        if row.contact_id not in contacts:
            contacts[row.contact_id] = ShownContact(row.contact_id, row.contact_name, row.contact_owner_id)
        if row.stage_id is not None and row.stage_id not in stages and row.stage_name is not None:
            stages[row.stage_id] = ShownStage(row.stage_id, row.stage_name, row.stage_kind)
        if row.id in wanted:
            leads[row.id] = row
    if not leads:
        return {}
    contact_ids = list(contacts)
    identities = _by_key(_IDENTITIES.fetch(connection, {"ids": contact_ids}), "contact_id")
    timelines = _by_key(_TIMELINES.fetch(connection, {"ids": list(leads), "limit": timeline_limit}), "lead_id")
    suggestions = _SUGGESTIONS.fetch(connection, {"ids": contact_ids})
    glances = card_rows.summaries(
        session, ROUTING_VIEWER, list(leads.values()), {c: [(r, stages.get(r.stage_id)) for r in rows]
                                                         for c, rows in kin.items()}, _sees)
    user_ids = {i for lead in leads.values() for i in (lead.owner_id, lead.assignee_id) if i is not None}
    user_ids |= {contacts[lead.contact_id].owner_id for lead in leads.values()} - {None}
    user_ids |= {i for glance in glances.values() for i in glance.people}
    users = {u.id: u for u in _USERS.fetch(connection, {"ids": list(user_ids)})} if user_ids else {}
    cards = {}
    for lead_id, lead in leads.items():
        contact = contacts[lead.contact_id]
        # The client's other leads, newest first, from the rows the glance read (no second SELECT of them).
        siblings = [x for x in sorted(kin[contact.id], key=_newest_first)[:KIN] if x.id != lead_id][:100]
        mine = {i for i in (lead.owner_id, lead.assignee_id, contact.owner_id) if i is not None}
        mine |= glances[lead_id].people
        cards[lead_id] = Card(
            lead, cast(Contact, contact), identities.get(contact.id, []),
            list(reversed(timelines.get(lead_id, []))),
            [x for x in siblings if x.status in OPEN_STATUSES], {i: users[i] for i in mine if i in users},
            [s for s in suggestions if contact.id in (s.contact_a_id, s.contact_b_id)],
            [x for x in siblings if x.status not in OPEN_STATUSES], glances[lead_id])
    return cards


def _sees(viewer: Viewer, lead: Any) -> bool:
    return sees(viewer, lead)


def _newest_first(lead: Any) -> int:
    return -lead.id


def _by_key(rows: Iterable[Any], key: str) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for row in rows:
        out.setdefault(getattr(row, key), []).append(row)
    return out


def _columns(table: Any, names: Sequence[str]) -> list[Any]:
    return [table.c[name] for name in names]


# What the card shows of a lead (serialize.lead_json, lead_cards.card_summary and its deals).
LEAD_SHOWN = ("id", "contact_id", "status", "priority", "channel", "source", "attributes", "subject", "notes",
              "owner_id", "assignee_id", "team_id", "outcome", "lost_reason", "handed_over_to", "created_at",
              "updated_at", "last_activity_at", "closed_at", "pipeline_id", "stage_id", "stage_entered_at", "amount",
              "currency", "close_date", "lost_reason_code")
INTERACTION_SHOWN = ("id", "lead_id", "contact_id", "channel", "direction", "text", "subject", "attributes",
                     "author_id", "delivery", "created_at")


# Core's tables, not the mapped classes: a statement naming a class goes through the ORM's execution
# (its compile state, its result set-up) even when it selects plain columns.
_LEADS, _CONTACTS, _STAGES = Lead.__table__, Contact.__table__, Stage.__table__
_INTERACTIONS, _IDENTITIES_T, _SUGGESTIONS_T, _USERS_T = (Interaction.__table__, Identity.__table__,
                                                          MergeSuggestion.__table__, User.__table__)


def _kin() -> Select[Any]:
    """Every live lead of the leads' clients (the leads among them), with its client and its stage's name."""
    clients = select(_LEADS.c.contact_id).where(_LEADS.c.id.in_(bindparam("ids", expanding=True))).scalar_subquery()
    return (select(*_columns(_LEADS, LEAD_SHOWN), _CONTACTS.c.display_name.label("contact_name"),
                   _CONTACTS.c.owner_id.label("contact_owner_id"), _STAGES.c.name.label("stage_name"),
                   _STAGES.c.kind.label("stage_kind"))
            .join(_CONTACTS, _CONTACTS.c.id == _LEADS.c.contact_id)
            .outerjoin(_STAGES, _STAGES.c.id == _LEADS.c.stage_id)
            .where(_LEADS.c.contact_id.in_(clients), _LEADS.c.deleted_at.is_(None))
            .order_by(_LEADS.c.last_activity_at.desc(), _LEADS.c.id.desc()))


def _timelines() -> Select[Any]:
    """The last `limit` contacts of each lead, newest first: one SELECT with a window for every lead."""
    t = _INTERACTIONS
    order = (t.c.created_at.desc(), t.c.id.desc())
    ranked = (select(t.c.id.label("rid"), func.row_number().over(partition_by=t.c.lead_id, order_by=order).label("n"))
              .where(t.c.lead_id.in_(bindparam("ids", expanding=True))).subquery())
    return (select(*_columns(t, INTERACTION_SHOWN)).join(ranked, ranked.c.rid == t.c.id)
            .where(ranked.c.n <= bindparam("limit")).order_by(*order))


# Built once: a card read follows nearly every outcome, and building and keying a statement costs more than
# running it (the ids are expanding parameters); on SQLite run on the driver itself (crm_store.prepared).
_KIN = Prepared(_kin())
_TIMELINES = Prepared(_timelines())
_IDENTITIES = Prepared(select(*_columns(_IDENTITIES_T, ("id", "contact_id", "kind", "value", "confidence")))
                       .where(_IDENTITIES_T.c.contact_id.in_(bindparam("ids", expanding=True)))
                       .order_by(_IDENTITIES_T.c.id))
_CONTACT_IDS = bindparam("ids", expanding=True)
_SUGGESTIONS = Prepared(select(*_columns(_SUGGESTIONS_T, ("id", "contact_a_id", "contact_b_id", "reason", "status",
                                                          "created_at")))
                        .where(_SUGGESTIONS_T.c.status == "pending",
                               or_(_SUGGESTIONS_T.c.contact_a_id.in_(_CONTACT_IDS),
                                   _SUGGESTIONS_T.c.contact_b_id.in_(_CONTACT_IDS))))
_USERS = Prepared(select(_USERS_T.c.id, _USERS_T.c.display_name)
                  .where(_USERS_T.c.id.in_(bindparam("ids", expanding=True))))
