"""Routing's outcomes written in bulk: the changes of every outcome in one group commit, a statement per row kind.

One outcome at a time cost ~20 statements and a commit of its own (the offer, the task, the audit entry,
the lead, the agent's activity, the card read back) and a write lock taken apart from the intake's. Here
the outcomes queued while the previous commit ran are written together by the intake's one writer
(`crm_store.ingest.Ingestor.record_routing`): new rows in one INSERT per table, updates in one
executemany per set of columns, the leads an accept assigns read in one SELECT, and the cards the
frames carry read for the whole batch at once (`crm_store.batch_cards`), inside the transaction that wrote
them (no re-read of a row from a later transaction).
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from crm_store.batch_cards import ROUTING_VIEWER, cards_of  # noqa: F401  (ROUTING_VIEWER: read from here too)
from crm_store.leads import Card
from crm_store.many_rows import insert_rows
from crm_store.models import AgentActivity, AuditEntry, Contact, Lead, Reservation, RoutingTask, StageChange, Task, User
from crm_store.prepared import Prepared
from crm_store.routing_log import task_state_values
from crm_store.stage_sync import ACTOR, moved_stage, stage_change
from crm_store.task_refs import lead_of_task
from crm_store.types import LeadStatus

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
    writes.flush(session)
    wanted = {lead_id for item in batch for lead_id in item.cards}
    cards = cards_of(session, wanted, timeline_limit) if wanted else {}
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

    def flush(self, session: Session) -> None:
        """Write it all (the cards that follow read it back in the same transaction)."""
        connection = session.connection()
        if self.offers:
            _NEW_OFFERS.run(connection, list(self.offers.values()))
        if self.closes:
            _CLOSE_OFFER.run(connection, list(self.closes.values()))
        for columns, rows in _grouped(self.tasks).items():
            _task_update(columns).run(connection, rows)
        if self.follows:
            _FOLLOW_TAKER.run(connection, self.follows)
        if self.assigns:
            _assign_leads(session, self.assigns)
        if self.audits:
            _AUDIT.run(connection, self.audits)
        if self.activity:
            _record_activity(session, self.activity)


# Built once: outcomes come one or two at a time, and building a statement costs more than running it; run on
# SQLite's driver itself (crm_store.prepared): SQLAlchemy's execution around each cost more than SQLite's work.
_NEW_OFFERS = Prepared(Reservation.__table__.insert())
_AUDIT = Prepared(AuditEntry.__table__.insert())
_NEW_ACTIVITY = Prepared(AgentActivity.__table__.insert())
_CLOSE_OFFER = Prepared(update(Reservation.__table__)
                        .where(Reservation.__table__.c.id == bindparam("b_id"),
                               Reservation.__table__.c.outcome == "pending")
                        .values(outcome=bindparam("b_outcome"), decided_at=bindparam("b_at")))
_FOLLOW_TAKER = Prepared(update(Task.__table__)
                         .where(Task.__table__.c.routing_task_id == bindparam("b_task"),
                                Task.__table__.c.state == OPEN_TASK)
                         .values(assignee_id=bindparam("b_agent"), updated_at=bindparam("b_at")))


@functools.lru_cache(maxsize=64)
def _task_update(columns: tuple[str, ...]) -> Prepared:
    table = RoutingTask.__table__
    return Prepared(update(table).where(table.c.id == bindparam("b_id"))
                    .values({c: bindparam(f"b_{c}") for c in columns}))


def _grouped(rows: Mapping[Any, Mapping[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Updates (by row id) by the set of columns they set: one executemany each."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, values in rows.items():
        columns = tuple(sorted(values))
        groups.setdefault(columns, []).append({"b_id": row_id, **{f"b_{c}": values[c] for c in columns}})
    return groups


def _assign_leads(session: Session, assigns: list[tuple[int, int, datetime]]) -> None:
    """The leads accepted offers assign, as `crm_store.leads.assign` does, in Core: the leads with their
    clients read in one SELECT, the agents in another, the changes written in one executemany per set of
    columns. As objects the ORM's flush cost more than all the rest of an accept; the stage follows the status
    as `crm_store.stage_sync`'s flush hook has it (`stage_sync.moved_stage`, the change written down)."""
    connection = session.connection()
    leads = {row.id: row for row in _ASSIGNED.fetch(connection, {"ids": list({i for i, _, _ in assigns})})}
    users = {row.id: row for row in _AGENTS.fetch(connection, {"ids": list({a for _, a, _ in assigns})})}
    changed: dict[int, dict[str, Any]] = {}
    owners: dict[int, int] = {}                  # clients given their first manager now
    stage_changes: list[dict[str, Any]] = []
    for lead_id, agent_id, at in assigns:
        lead, user = leads.get(lead_id), users.get(agent_id)
        if lead is None or lead.deleted_at is not None or user is None or not user.active:
            continue    # deleted meanwhile, or the agent disabled: routing's own record of the accept stands
        now = {**_current(lead), **changed.get(lead_id, {})}
        values = changed.setdefault(lead_id, {})
        values.update(assignee_id=user.id, team_id=user.team_id, updated_at=at)
        if now["status"] == LeadStatus.NEW:
            values["status"] = LeadStatus.ASSIGNED.value
            _follow_status(session, lead, now["stage_id"], at, values, stage_changes)
        if lead.contact_owner_id is None and lead.contact_id not in owners:
            # The first manager to take a client becomes the one the client is pinned to.
            owners[lead.contact_id] = user.id
            if now["owner_id"] is None:
                values["owner_id"] = user.id
    for columns, rows in _grouped(changed).items():
        _lead_update(columns).run(connection, rows)
    if owners:
        _PIN_CLIENT.run(connection, [{"b_id": c, "b_owner": u} for c, u in owners.items()])
    if stage_changes:
        insert_rows(connection, StageChange.__table__, stage_changes)
    _forget(session, Lead, changed)
    _forget(session, Contact, owners)


def _current(lead: Any) -> dict[str, Any]:
    return {"status": lead.status, "stage_id": lead.stage_id, "owner_id": lead.owner_id}


def _follow_status(session: Session, lead: Any, stage_id: int | None, at: datetime, values: dict[str, Any],
                   stage_changes: list[dict[str, Any]]) -> None:
    """The stage the new status belongs in, and its change written down (`crm_store.stage_sync._follow_status`)."""
    target = moved_stage(session, lead.pipeline_id, values["status"], stage_id)
    if target is not None:
        values.update(stage_id=target, stage_entered_at=at)
        stage_changes.append(stage_change(lead.id, lead.pipeline_id, stage_id, target, at, session.info.get(ACTOR)))


def _forget(session: Session, model: type, ids: Iterable[int]) -> None:
    """Rows written around the session: an object of theirs it holds is read again when next used."""
    if not session.identity_map:
        return
    for row_id in ids:
        held = session.identity_map.get(identity_key(model, row_id))
        if held is not None:
            session.expire(held)


@functools.lru_cache(maxsize=32)
def _lead_update(columns: tuple[str, ...]) -> Prepared:
    table = Lead.__table__
    return Prepared(update(table).where(table.c.id == bindparam("b_id"))
                    .values({c: bindparam(f"b_{c}") for c in columns}))


def _record_activity(session: Session, changes: list[tuple[int, str, str | None, str, datetime]]) -> None:
    """A row for each change that differs from the agent's last state (read once for all of them)."""
    user_ids = list({user_id for user_id, *_ in changes})
    last = {row.user_id: (row.state, row.reason)
            for row in _LAST_ACTIVITY.fetch(session.connection(), {"ids": user_ids})}
    rows = []
    for user_id, shown, reason, source, at in changes:
        if last.get(user_id) == (shown[:20], reason):
            continue     # a repeated presence.set, or a change of load that left the activity as it was
        last[user_id] = (shown[:20], reason)
        rows.append({"user_id": user_id, "state": shown[:20], "reason": reason, "source": source, "started_at": at})
    if rows:
        _NEW_ACTIVITY.run(session.connection(), rows)


def _last_activity() -> Any:
    # Each agent's newest row through the (user_id, started_at) index, one LIMIT 1 each: a window over all of an
    # agent's rows read their whole history (a row per presence or load change, a year of them) on every outcome.
    a, users = AgentActivity.__table__, User.__table__      # tables: plain rows, no ORM execution
    newest = (select(a.c.id).where(a.c.user_id == users.c.id)
              .order_by(a.c.started_at.desc(), a.c.id.desc()).limit(1)
              .correlate(users).scalar_subquery())
    agents = select(newest).select_from(users).where(users.c.id.in_(bindparam("ids", expanding=True)))
    return select(a.c.user_id, a.c.state, a.c.reason).where(a.c.id.in_(agents))


_LAST_ACTIVITY = Prepared(_last_activity())

# Built once, as the others: only what assigning reads.
_IDS = bindparam("ids", expanding=True)
_LEADS, _CONTACTS, _USERS = Lead.__table__, Contact.__table__, User.__table__
_ASSIGNED = Prepared(select(_LEADS.c.id, _LEADS.c.contact_id, _LEADS.c.status, _LEADS.c.deleted_at,
                            _LEADS.c.owner_id, _LEADS.c.pipeline_id, _LEADS.c.stage_id,
                            _CONTACTS.c.owner_id.label("contact_owner_id"))
                     .join(_CONTACTS, _CONTACTS.c.id == _LEADS.c.contact_id).where(_LEADS.c.id.in_(_IDS)))
_AGENTS = Prepared(select(_USERS.c.id, _USERS.c.active, _USERS.c.team_id).where(_USERS.c.id.in_(_IDS)))
_PIN_CLIENT = Prepared(update(_CONTACTS).where(_CONTACTS.c.id == bindparam("b_id"), _CONTACTS.c.owner_id.is_(None))
                       .values(owner_id=bindparam("b_owner")))
