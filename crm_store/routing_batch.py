"""Routing's outcomes written in bulk: the changes of every outcome in one group commit, a statement per row kind.

One outcome at a time cost ~20 statements and a commit of its own (the offer, the task, the audit entry,
the lead, the agent's activity, the card read back) and a write lock taken apart from the intake's. Here
the outcomes queued while the previous commit ran are written together by the intake's one writer
(`crm_store.ingest.Ingestor.record_routing`): new rows in one INSERT per table, updates in one
executemany per set of columns, the leads an accept assigns read in one SELECT, and the cards the
frames carry read for the whole batch at once, inside the transaction that wrote them (no re-read of
a row from a later transaction).
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, inspect, or_, select, update
from sqlalchemy.orm import Session

from crm_store import card_rows
from crm_store.leads import Card, visible
from crm_store.models import (
    AgentActivity,
    AuditEntry,
    Contact,
    Identity,
    Interaction,
    Lead,
    MergeSuggestion,
    Reservation,
    RoutingTask,
    Task,
    User,
)
from crm_store.routing_log import task_state_values
from crm_store.task_refs import lead_of_task
from crm_store.types import OPEN_STATUSES, LeadStatus, Role, Viewer

OPEN_TASK = "open"


@dataclass(frozen=True, slots=True)
class OfferMade:
    offer_id: str
    task_id: str
    agent_id: int
    created: datetime
    expires: datetime
    explanation: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OfferClosed:
    offer_id: str
    outcome: str           # rejected / timeout / rescinded / ...


@dataclass(frozen=True, slots=True)
class OfferAccepted:
    offer_id: str
    task_id: str
    agent_id: int


@dataclass(frozen=True, slots=True)
class TaskStateChanged:
    task_id: str
    state: str
    agent_id: int | None = None


@dataclass(frozen=True, slots=True)
class ActivityChanged:
    """What the agent's screen shows as their state; a row only when it differs from their last one."""

    user_id: int
    shown: str
    reason: str | None
    source: str


Change = OfferMade | OfferClosed | OfferAccepted | TaskStateChanged | ActivityChanged


@dataclass(frozen=True, slots=True)
class RoutingChanges:
    """One outcome's changes in the order they happened, and the leads whose cards its frames carry."""

    at: datetime
    changes: tuple[Change, ...]
    cards: tuple[int, ...] = ()


def write_all(session: Session, batch: Sequence[RoutingChanges], timeline_limit: int = 20) -> list[dict[int, Card]]:
    """Write every outcome of `batch` in order; for each, the cards it asked for (a deleted lead has none)."""
    writes = _Writes()
    for item in batch:
        for change in item.changes:
            writes.add(change, item.at)
    held = writes.flush(session)
    wanted = {lead_id for item in batch for lead_id in item.cards}
    cards = cards_of(session, wanted, timeline_limit, held) if wanted else {}
    return [{lead_id: cards[lead_id] for lead_id in item.cards if lead_id in cards} for item in batch]


@dataclass(slots=True)
class _Writes:
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)          # new reservations, by id
    closes: dict[str, dict[str, Any]] = field(default_factory=dict)          # stored ones still pending
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)           # routing task columns, merged
    audits: list[dict[str, Any]] = field(default_factory=list)
    assigns: list[tuple[int, int, datetime]] = field(default_factory=list)   # (lead, agent, at)
    follows: list[dict[str, Any]] = field(default_factory=list)              # callbacks' tasks follow the taker
    activity: list[tuple[int, str, str | None, str, datetime]] = field(default_factory=list)

    def add(self, change: Change, at: datetime) -> None:
        if isinstance(change, OfferMade):
            self.offers[change.offer_id] = {
                "id": change.offer_id, "task_id": change.task_id, "agent_id": change.agent_id,
                "created_at": change.created, "expires_at": change.expires, "outcome": "pending",
                "decided_at": None, "explanation": dict(change.explanation)}
            self._task(change.task_id, "reserved", at)
            self._audit("lead.offered", at, change.agent_id, lead_of_task(change.task_id), {"offer_id": change.offer_id})
        elif isinstance(change, OfferClosed):
            self._close(change.offer_id, change.outcome, at)
        elif isinstance(change, OfferAccepted):
            self._close(change.offer_id, "accepted", at)
            self._task(change.task_id, "assigned", at, change.agent_id)
            self.follows.append({"b_task": change.task_id, "b_agent": change.agent_id, "b_at": at})
            lead_id = lead_of_task(change.task_id)
            if lead_id is not None:
                self.assigns.append((lead_id, change.agent_id, at))
                self._audit("lead.accepted", at, change.agent_id, lead_id, {})
        elif isinstance(change, TaskStateChanged):
            self._task(change.task_id, change.state, at, change.agent_id)
        else:
            self.activity.append((change.user_id, change.shown, change.reason[:60] if change.reason else None,
                                  change.source, at))

    def _close(self, offer_id: str, outcome: str, at: datetime) -> None:
        new = self.offers.get(offer_id)
        if new is not None:          # made in this batch: the row goes in already closed
            if new["outcome"] == "pending":
                new.update(outcome=outcome, decided_at=at)
        elif offer_id not in self.closes:     # the first close wins, as `WHERE outcome = 'pending'` would have it
            self.closes[offer_id] = {"b_id": offer_id, "b_outcome": outcome, "b_at": at}

    def _task(self, task_id: str, state: str, at: datetime, assignee_id: int | None = None) -> None:
        self.tasks.setdefault(task_id, {}).update(task_state_values(state, at, assignee_id))

    def _audit(self, action: str, at: datetime, user_id: int, lead_id: int | None, detail: dict[str, Any]) -> None:
        self.audits.append({"at": at, "user_id": user_id, "action": action, "outcome": "ok", "lead_id": lead_id,
                            "contact_id": None, "ip": None, "detail": detail})

    def flush(self, session: Session) -> Held | None:
        """Write it all; the rows the assignments read, which the cards that follow may take as they are."""
        held = None
        connection = session.connection()
        if self.offers:
            connection.execute(_NEW_OFFERS, list(self.offers.values()))
        if self.closes:
            connection.execute(_CLOSE_OFFER, list(self.closes.values()))
        for columns, rows in _grouped(self.tasks).items():
            connection.execute(_task_update(columns), rows)
        if self.follows:
            connection.execute(_FOLLOW_TAKER, self.follows)
        if self.assigns:
            held = _assign_leads(session, self.assigns)
        if self.audits:
            connection.execute(_AUDIT, self.audits)
        if self.activity:
            _record_activity(session, self.activity)
        return held


# Built once: outcomes come one or two at a time, and building a statement costs more than running it.
_NEW_OFFERS = Reservation.__table__.insert()
_AUDIT = AuditEntry.__table__.insert()
_NEW_ACTIVITY = AgentActivity.__table__.insert()
_CLOSE_OFFER = (update(Reservation.__table__)
                .where(Reservation.__table__.c.id == bindparam("b_id"), Reservation.__table__.c.outcome == "pending")
                .values(outcome=bindparam("b_outcome"), decided_at=bindparam("b_at")))
_FOLLOW_TAKER = (update(Task.__table__)
                 .where(Task.__table__.c.routing_task_id == bindparam("b_task"), Task.__table__.c.state == OPEN_TASK)
                 .values(assignee_id=bindparam("b_agent"), updated_at=bindparam("b_at")))


@functools.lru_cache(maxsize=64)
def _task_update(columns: tuple[str, ...]) -> Any:
    table = RoutingTask.__table__
    return update(table).where(table.c.id == bindparam("b_id")).values({c: bindparam(f"b_{c}") for c in columns})


def _grouped(tasks: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Task updates by the set of columns they set: one executemany each."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for task_id, values in tasks.items():
        columns = tuple(sorted(values))
        groups.setdefault(columns, []).append({"b_id": task_id, **{f"b_{c}": values[c] for c in columns}})
    return groups


@dataclass(frozen=True, slots=True)
class Held:
    """Rows this transaction's session read, by id (the session keeps only weak references to clean rows)."""

    leads: Mapping[int, Lead]
    contacts: Mapping[int, Contact]
    users: Mapping[int, User]


def _assign_leads(session: Session, assigns: list[tuple[int, int, datetime]]) -> Held:
    """The leads accepted offers assign, as `crm_store.leads.assign` does (the ORM keeps the stage in step),
    with the leads and their clients read in one SELECT, the agents in another."""
    leads, contacts = _leads_and_clients(session, {lead_id for lead_id, _, _ in assigns}, None)
    users = _users(session, {a for _, a, _ in assigns}, None)
    for lead_id, agent_id, at in assigns:
        lead, user = leads.get(lead_id), users.get(agent_id)
        if lead is None or lead.deleted_at is not None or user is None or not user.active:
            continue    # deleted meanwhile, or the agent disabled: routing's own record of the accept stands
        lead.assignee_id = user.id
        lead.team_id = user.team_id
        if lead.status == LeadStatus.NEW:
            lead.status = LeadStatus.ASSIGNED.value
        contact = contacts.get(lead.contact_id)
        if contact is not None and contact.owner_id is None:
            # The first manager to take a client becomes the one the client is pinned to.
            contact.owner_id = user.id
            if lead.owner_id is None:
                lead.owner_id = user.id
        lead.updated_at = at
    session.flush()
    return Held(leads, contacts, users)


def _record_activity(session: Session, changes: list[tuple[int, str, str | None, str, datetime]]) -> None:
    """A row for each change that differs from the agent's last state (read once for all of them)."""
    user_ids = list({user_id for user_id, *_ in changes})
    last = {row.user_id: (row.state, row.reason) for row in session.execute(_LAST_ACTIVITY, {"ids": user_ids})}
    rows = []
    for user_id, shown, reason, source, at in changes:
        if last.get(user_id) == (shown[:20], reason):
            continue     # a repeated presence.set, or a change of load that left the activity as it was
        last[user_id] = (shown[:20], reason)
        rows.append({"user_id": user_id, "state": shown[:20], "reason": reason, "source": source, "started_at": at})
    if rows:
        session.connection().execute(_NEW_ACTIVITY, rows)


def _last_activity() -> Any:
    # Each agent's newest row through the (user_id, started_at) index, one LIMIT 1 each: a window over all of an
    # agent's rows read their whole history (a row per presence or load change, a year of them) on every outcome.
    newest = (select(AgentActivity.id).where(AgentActivity.user_id == User.id)
              .order_by(AgentActivity.started_at.desc(), AgentActivity.id.desc()).limit(1)
              .correlate(User).scalar_subquery())
    agents = select(newest).select_from(User).where(User.id.in_(bindparam("ids", expanding=True)))
    return select(AgentActivity.user_id, AgentActivity.state, AgentActivity.reason).where(AgentActivity.id.in_(agents))


_LAST_ACTIVITY = _last_activity()

# Routing reads as an all-seeing viewer; each pop's glance is narrowed to its lead's team (card_rows.reach_of).
ROUTING_VIEWER = Viewer(user_id=card_rows.ROUTING_USER, role=Role.ADMIN, team_id=None)


def cards_of(session: Session, lead_ids: Iterable[int], timeline_limit: int = 20,
             held: Held | None = None) -> dict[int, Card]:
    """The cards routing's frames carry (the offer is the permission: no viewer rules), a few SELECTs for all;
    `held`: rows `session` read before, taken as they are instead of read again (see `_leads_and_clients`)."""
    found, contacts = _leads_and_clients(session, set(lead_ids), held)
    leads = {lead_id: lead for lead_id, lead in found.items() if lead.deleted_at is None}
    if not leads:
        return {}
    contact_ids = list({lead.contact_id for lead in leads.values()})
    identities: dict[int, list[Identity]] = {}
    for identity in session.scalars(_CARD_IDENTITIES, {"ids": contact_ids}):
        identities.setdefault(identity.contact_id, []).append(identity)
    timelines = _by_key(session.scalars(_CARD_TIMELINES, {"ids": list(leads), "limit": timeline_limit}), "lead_id")
    suggestions = list(session.scalars(_CARD_SUGGESTIONS, {"ids": contact_ids}))
    glances, live = card_rows.read_many_with_kin(session, ROUTING_VIEWER, list(leads.values()), visible)
    # The client's other leads come from the rows the glance read (every live lead of the client): a second
    # SELECT of the same rows cost a statement and their row processing on every card read.
    kin = {contact_id: sorted(rows, key=_newest_first)[:KIN] for contact_id, rows in live.items()}
    user_ids = {i for lead in leads.values() for i in (lead.owner_id, lead.assignee_id) if i is not None}
    user_ids |= {c.owner_id for c in (contacts[lead.contact_id] for lead in leads.values()) if c.owner_id is not None}
    user_ids |= {i for glance in glances.values() for i in glance.people}
    users = _users(session, user_ids, held)
    cards = {}
    for lead_id, lead in leads.items():
        contact = contacts[lead.contact_id]
        siblings = [x for x in kin.get(contact.id, []) if x.id != lead_id][:100]
        mine = {i for i in (lead.owner_id, lead.assignee_id, contact.owner_id) if i is not None}
        mine |= glances[lead_id].people
        cards[lead_id] = Card(
            lead, contact, identities.get(contact.id, []), list(reversed(timelines.get(lead_id, []))),
            [x for x in siblings if x.status in OPEN_STATUSES], {i: users[i] for i in mine if i in users},
            [s for s in suggestions if contact.id in (s.contact_a_id, s.contact_b_id)],
            [x for x in siblings if x.status not in OPEN_STATUSES], glances[lead_id])
    return cards


def _leads_and_clients(session: Session, lead_ids: set[int],
                       held: Held | None) -> tuple[dict[int, Lead], dict[int, Contact]]:
    """The leads and their clients, deleted leads too. An accept's card has them `held` (the assignment just
    read and changed them): a SELECT would return those very objects, as they are (it refreshes no loaded
    attribute), so it runs only when one is not held, or no longer in the session, or partly unloaded."""
    if held is not None:
        leads = _current(session, held.leads, lead_ids)
        if leads is not None:
            contacts = _current(session, held.contacts, {lead.contact_id for lead in leads.values()})
            if contacts is not None:
                return leads, contacts
    leads, contacts = {}, {}
    for lead, contact in session.execute(_CARD_LEADS, {"ids": list(lead_ids)}):
        leads[lead.id] = lead
        contacts[contact.id] = contact
    return leads, contacts


def _users(session: Session, user_ids: set[int], held: Held | None) -> dict[int, User]:
    """The users a card names (or an accept assigns), the held ones when they are all of them (as above)."""
    if not user_ids:
        return {}
    users = _current(session, held.users, user_ids) if held is not None else None
    if users is not None:
        return users
    return {u.id: u for u in session.scalars(_CARD_USERS, {"ids": list(user_ids)})}


def _current(session: Session, rows: Mapping[int, Any], ids: set[int]) -> dict[int, Any] | None:
    """Each of these rows as `session` holds it, every column loaded; None if any is not so."""
    found = {}
    for row_id in ids:
        row = rows.get(row_id)
        if row is None:
            return None
        state = inspect(row)
        if state.session is not session or not state.persistent or state.unloaded & _columns(type(row)):
            return None
        found[row_id] = row
    return found


@functools.cache
def _columns(model: type) -> frozenset[str]:
    return frozenset(attr.key for attr in inspect(model).column_attrs)


def _latest(model: Any, where: Any, key: Any, order: tuple[Any, ...], limit: Any) -> Select[Any]:
    """Up to `limit` rows of `model` per `key`, in `order`: one SELECT with a window for every key."""
    ranked = select(model.id.label("rid"), func.row_number().over(partition_by=key, order_by=order).label("n")) \
        .where(where).subquery()
    return select(model).join(ranked, ranked.c.rid == model.id).where(ranked.c.n <= limit).order_by(*order)


KIN = 101      # a client's live leads a card looks at (this one among them), newest first: 100 others at most


def _newest_first(lead: Lead) -> int:
    return -lead.id


def _by_key(rows: Iterable[Any], key: str) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for row in rows:
        out.setdefault(getattr(row, key), []).append(row)
    return out


# Built once: a card read runs after nearly every outcome, often for one or two leads, and building and
# keying the dozen statements of the read cost more than running them (the ids are expanding parameters).
_IDS = bindparam("ids", expanding=True)
_CARD_LEADS = select(Lead, Contact).join(Contact, Contact.id == Lead.contact_id).where(Lead.id.in_(_IDS))
_CARD_IDENTITIES = select(Identity).where(Identity.contact_id.in_(_IDS)).order_by(Identity.id)
_CARD_TIMELINES = _latest(Interaction, Interaction.lead_id.in_(_IDS), Interaction.lead_id,
                          (Interaction.created_at.desc(), Interaction.id.desc()), bindparam("limit"))
_CARD_SUGGESTIONS = select(MergeSuggestion).where(
    MergeSuggestion.status == "pending",
    or_(MergeSuggestion.contact_a_id.in_(_IDS), MergeSuggestion.contact_b_id.in_(_IDS)))
_CARD_USERS = select(User).where(User.id.in_(_IDS))
