"""What a batch knows before it resolves anything: read up front in a handful of set queries."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from crm_store import pipelines
from crm_store.models import Contact, Identity, Interaction, Lead, RoutingTask, User
from crm_store.new_rows import NewContact, NewLead, NewRows
from crm_store.prepared import Prepared
from crm_store.routing_log import OPEN_TASK_STATES
from crm_store.types import OPEN_STATUSES, IngestRequest, IngestResult

AnyContact = Contact | NewContact
AnyLead = Lead | NewLead


@dataclass(slots=True)
class Known:
    """An identity seen in this batch: stored already (`row`), or to be inserted after the flush."""

    contact: AnyContact
    row: Identity | None = None


@dataclass(slots=True)
class BatchState:
    """The batch's view of the store, kept up to date as each event is resolved."""

    identities: dict[tuple[str, str], Known] = field(default_factory=dict)
    kinds: dict[int, dict[str, set[str]]] = field(default_factory=dict)   # id(contact) -> kind -> values
    leads: dict[int, list[AnyLead]] = field(default_factory=dict)          # id(contact) -> candidates
    threads: dict[tuple[str, str], AnyLead] = field(default_factory=dict)
    hinted: dict[int, Lead] = field(default_factory=dict)
    routed: set[int] = field(default_factory=set)        # id(lead) with an open routing task
    owner_teams: dict[int, int | None] = field(default_factory=dict)
    entries: dict[str | None, tuple[int, int] | None] = field(default_factory=dict)   # pipeline key -> entry
    rows: NewRows = field(default_factory=NewRows)


def _pairs_in(first: InstrumentedAttribute[str], second: InstrumentedAttribute[str],
              pairs: set[tuple[str, str]]) -> ColumnElement[bool]:
    """`(first, second) IN pairs`, spelled so that SQLite searches the index instead of scanning."""
    return or_(*(and_(first == a, second.in_(bs)) for a, bs in _grouped(pairs).items()))


def _grouped(pairs: set[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for a, b in pairs:
        grouped.setdefault(a, []).append(b)
    return grouped


# The batch's reads, each built once (per number of groups of `_pairs_in`'s shape) with its values bound at
# execution: building a statement and its cache key anew for every batch cost the writer more than SQLite's
# own work for these reads. The SQL is the same, so are the plans (tests/crm_store/test_query_plans.py).
_built: dict[tuple[Callable[[int], Any], int], Any] = {}


def _bound(build: Callable[[int], Any], name: str, pairs: set[tuple[str, str]]) -> tuple[Any, dict[str, Any]]:
    """`build(groups)`, made once per number of distinct first values, and the values of `pairs` for its
    parameters (`name` is the one `build` gives `_pairs_clause`)."""
    grouped = _grouped(pairs)
    values: dict[str, Any] = {}
    for i, (a, bs) in enumerate(grouped.items()):
        values[f"{name}_{i}"], values[f"{name}_{i}_in"] = a, bs
    key = (build, len(grouped))
    if key not in _built:
        _built[key] = build(len(grouped))
    return _built[key], values


def _pairs_clause(first: InstrumentedAttribute[str], second: InstrumentedAttribute[str], name: str,
                  groups: int) -> ColumnElement[bool]:
    """`_pairs_in`'s condition for `groups` distinct first values, bound by `_bound`'s values."""
    return or_(*(and_(first == bindparam(f"{name}_{i}"), second.in_(bindparam(f"{name}_{i}_in", expanding=True)))
                 for i in range(groups)))


def _stored_events(groups: int) -> Prepared:
    return Prepared(select(Interaction.channel, Interaction.event_id, Interaction.id, Interaction.contact_id,
                           Lead.id, Lead.status, Lead.owner_id, Lead.assignee_id, Lead.priority)
                    .join(Lead, Lead.id == Interaction.lead_id)
                    .where(_pairs_clause(Interaction.channel, Interaction.event_id, "event", groups)))


def _known_contacts(groups: int) -> Any:
    """The contacts holding any of the claims, with every identity of theirs: two statements (the identities
    come with their contact), where loading the claimed identities, then their contacts, then all their
    identities took three and built each claimed identity twice."""
    claimed = select(Identity.contact_id).where(_pairs_clause(Identity.kind, Identity.value, "claim", groups))
    return select(Contact).where(Contact.id.in_(claimed)).options(selectinload(Contact.identities))


def _thread_leads(groups: int) -> Prepared:
    return Prepared(select(Interaction.channel, Interaction.thread_ref, Interaction.lead_id)
                    .where(_pairs_clause(Interaction.channel, Interaction.thread_ref, "thread", groups))
                    .order_by(Interaction.id))


_CANDIDATE_LEADS = select(Lead).where(
    Lead.deleted_at.is_(None),
    or_(
        Lead.id.in_(bindparam("lead_ids", expanding=True)),
        Lead.contact_id.in_(bindparam("contact_ids", expanding=True))
        & or_(Lead.status.in_(OPEN_STATUSES), Lead.closed_at >= bindparam("closed_since")),
    ),
)
# Every task of the batch's leads (a lead has a few), their states kept in Python: with `state IN (open)` in the
# statement SQLite, without statistics, searched by the state's index instead, i.e. read every waiting task of
# the store (4.7 ms a batch with 21,000 of them) to find the batch's few.
_TASK_STATES = Prepared(select(RoutingTask.lead_id, RoutingTask.state).where(
    RoutingTask.lead_id.in_(bindparam("lead_ids", expanding=True))))
_TEAMS = Prepared(select(User.id, User.team_id).where(User.id.in_(bindparam("user_ids", expanding=True))))


def already_stored(session: Session, requests: list[IngestRequest]) -> dict[tuple[str, str], IngestResult]:
    keys = {(r.channel, r.event_id) for r in requests}
    statement, values = _bound(_stored_events, "event", keys)
    # Column reads go to the connection (on SQLite its driver: crm_store.prepared): the session's ORM layer has
    # nothing to do for them but costs its setup.
    rows = statement.fetch(session.connection(), values)
    return {
        (channel, event_id): IngestResult(
            lead_id=lead_id, contact_id=contact_id, interaction_id=interaction_id,
            created_lead=False, created_contact=False, duplicate=True,
            lead_status=status, owner_id=owner_id, assignee_id=assignee_id, priority=priority,
        )
        for channel, event_id, interaction_id, contact_id, lead_id, status, owner_id, assignee_id, priority in rows
    }


def prefetch(
    session: Session, requests: list[IngestRequest], reopen_window: timedelta, now: datetime
) -> BatchState:
    state = BatchState()
    for key in {r.pipeline for r in requests}:
        pipelines.entry_stage(session, key, state.entries)
    claim_keys = {(c.kind, c.value) for r in requests for c in r.claims}
    if claim_keys:
        found = session.scalars(*_bound(_known_contacts, "claim", claim_keys))
        for contact in found:
            for identity in contact.identities:
                if (identity.kind, identity.value) in claim_keys:
                    state.identities[(identity.kind, identity.value)] = Known(contact, identity)
            state.kinds[id(contact)] = _kinds_of(contact)
    contacts = {known.contact for known in state.identities.values()}

    thread_keys = {(r.channel, r.thread_ref) for r in requests if r.thread_ref}
    thread_lead_ids: dict[tuple[str, str], int] = {}
    if thread_keys:
        statement, values = _bound(_thread_leads, "thread", thread_keys)
        rows = statement.fetch(session.connection(), values)
        thread_lead_ids = {(channel, ref): lead_id for channel, ref, lead_id in rows}

    contact_ids = {c.id for c in contacts}
    hints = {r.lead_hint for r in requests if r.lead_hint is not None}
    if contact_ids or thread_lead_ids or hints:
        leads = session.scalars(_CANDIDATE_LEADS, {
            "lead_ids": list(set(thread_lead_ids.values()) | hints), "contact_ids": list(contact_ids),
            "closed_since": now - reopen_window})
        by_id = {lead.id: lead for lead in leads}
        by_contact = {c.id: c for c in contacts}
        for lead in by_id.values():
            if lead.contact_id in by_contact:
                state.leads.setdefault(id(by_contact[lead.contact_id]), []).append(lead)
        state.threads = {k: by_id[v] for k, v in thread_lead_ids.items() if v in by_id}
        state.hinted = {h: by_id[h] for h in hints if h in by_id}
        if by_id:
            tasks = _TASK_STATES.fetch(session.connection(), {"lead_ids": list(by_id)})
            open_for = {lead_id for lead_id, task_state in tasks if task_state in OPEN_TASK_STATES}
            state.routed = {id(by_id[lead_id]) for lead_id in open_for}

    owner_ids = {c.owner_id for c in contacts if c.owner_id is not None}
    if owner_ids:
        rows = _TEAMS.fetch(session.connection(), {"user_ids": list(owner_ids)})
        state.owner_teams = {user_id: team_id for user_id, team_id in rows}
    return state


def _kinds_of(contact: Contact) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for identity in contact.identities:
        kinds.setdefault(identity.kind, set()).add(identity.value)
    return kinds
