"""One batch of inbound events, resolved inside one transaction: who is it, which lead, what is new.

Everything the batch needs is read up front in a handful of set queries; the events are then
resolved in memory, in arrival order, so that two events of one client in the same batch see
each other; the writes go out in one flush.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from crm_store.batch_state import AnyContact, AnyLead, BatchState, Known, already_stored, prefetch
from crm_store.models import Lead, MergeSuggestion
from crm_store.new_rows import NewContact, NewInteraction, NewLead, NewTask
from crm_store.types import OPEN_STATUSES, Claim, IngestRequest, IngestResult, LeadStatus

# A client has any number of these; every other kind (telegram, whatsapp, ...) is an external
# account id, and two different ids of one kind mean two different people or a shared device.
MULTI_VALUED_KINDS = frozenset({"phone", "email"})


@dataclass(frozen=True, slots=True)
class JoinPolicy:
    """When a new event continues an existing lead rather than opening another."""

    stale_after: timedelta = timedelta(days=30)      # an open lead idle longer than this is not continued
    reopen_window: timedelta = timedelta(hours=72)   # a lead closed more recently than this is reopened




@dataclass(slots=True)
class _Outcome:
    request: IngestRequest
    contact: AnyContact
    lead: AnyLead
    interaction: NewInteraction
    task: NewTask | None
    created_contact: bool
    created_lead: bool
    reopened: bool
    pairs: list[tuple[AnyContact, AnyContact, str]] = field(default_factory=list)


def resolve_batch(
    session: Session, requests: list[IngestRequest], policy: JoinPolicy, now: datetime
) -> list[IngestResult]:
    """Persist `requests` (not yet committed) and return one result per request, in order."""
    done = already_stored(session, requests)
    fresh = [r for r in requests if (r.channel, r.event_id) not in done]
    state = prefetch(session, fresh, policy.reopen_window, now)
    outcomes: dict[tuple[str, str], _Outcome] = {}
    for request in fresh:
        key = (request.channel, request.event_id)
        if key not in outcomes:
            outcomes[key] = _resolve_one(state, request, policy, now)
    session.flush()            # changes to stored leads and identities
    state.rows.insert(session, now)
    suggestion_ids = _suggest_merges(session, list(outcomes.values()), now)

    results: list[IngestResult] = []
    seen: set[tuple[str, str]] = set()
    for request in requests:
        key = (request.channel, request.event_id)
        if key in done:
            results.append(done[key])
            continue
        o = outcomes[key]
        results.append(IngestResult(
            lead_id=o.lead.id, contact_id=o.contact.id, interaction_id=o.interaction.id,
            created_lead=o.created_lead and key not in seen,
            created_contact=o.created_contact and key not in seen,
            duplicate=key in seen, reopened=o.reopened,
            merge_suggestion_ids=tuple(s.id for s in suggestion_ids.get(key, ())),
            lead_status=o.lead.status, owner_id=o.lead.owner_id, assignee_id=o.lead.assignee_id,
            priority=o.lead.priority, task_id=o.task.id if o.task and key not in seen else None,
            task_queue=o.task.queue if o.task else None, task_channel=o.task.channel if o.task else None,
        ))
        seen.add(key)
    return results


def _conflicts(state: BatchState, contact: AnyContact, claims: list[Claim]) -> str | None:
    """The external id of `contact` that contradicts `claims`, if any."""
    kinds = state.kinds.get(id(contact), {})
    for claim in claims:
        if claim.kind in MULTI_VALUED_KINDS:
            continue
        other = kinds.get(claim.kind, set()) - {claim.value}
        if other:
            return f"conflicting {claim.kind} ids: {sorted(other)[0]} and {claim.value}"
    return None


def _resolve_one(state: BatchState, request: IngestRequest, policy: JoinPolicy, now: datetime) -> _Outcome:
    strong = [c for c in request.claims if c.strong]
    weak = [c for c in request.claims if not c.strong]
    matched: dict[int, tuple[AnyContact, list[Claim]]] = {}
    for claim in strong:
        known = state.identities.get((claim.kind, claim.value))
        if known is not None:
            matched.setdefault(id(known.contact), (known.contact, []))[1].append(claim)

    pairs: list[tuple[AnyContact, AnyContact, str]] = []
    conflicted: list[tuple[AnyContact, str]] = []
    contact: AnyContact | None = None
    if matched:
        # Prefer the contact the channel itself proves (the caller id, the mail sender).
        ranked = sorted(matched.values(), key=lambda m: not any(c.kind == request.primary_kind for c in m[1]))
        candidate = ranked[0][0]
        conflict = _conflicts(state, candidate, strong)
        if conflict is None:
            contact = candidate
            for other, claims in ranked[1:]:
                named = ", ".join(f"{c.kind} {c.value}" for c in claims)
                pairs.append((candidate, other, f"one {request.channel} contact also named {named}"))
        else:
            conflicted = [(other, conflict) for other, _ in ranked]

    created_contact = contact is None
    if contact is None:
        contact = NewContact(display_name=request.name, created_at=now)
        state.rows.contacts.append(contact)
        state.kinds[id(contact)] = {}
        pairs.extend((other, contact, reason) for other, reason in conflicted)
    elif not contact.display_name and request.name:
        contact.display_name = request.name

    for claim in strong:
        known = state.identities.get((claim.kind, claim.value))
        if known is None:
            state.identities[(claim.kind, claim.value)] = Known(contact)
            state.rows.identities.append((contact, claim.kind, claim.value, claim.confidence))
            state.kinds[id(contact)].setdefault(claim.kind, set()).add(claim.value)
        elif known.contact is contact and known.row is not None and claim.confidence == "verified":
            known.row.confidence = "verified"
    for claim in weak:
        known = state.identities.get((claim.kind, claim.value))
        if known is not None and known.contact is not contact:
            pairs.append((contact, known.contact, f"{claim.kind} {claim.value} mentioned in a message"))

    lead, created_lead, reopened = _choose_lead(state, request, contact, policy, now)
    interaction = NewInteraction(lead, contact, {
        "channel": request.channel, "event_id": request.event_id, "direction": request.direction,
        "text": request.text, "subject": request.subject, "thread_ref": request.thread_ref,
        "attributes": dict(request.attributes), "created_at": request.received_at,
    })
    state.rows.interactions.append(interaction)
    task = None
    if request.routing is not None and lead.assignee_id is None and id(lead) not in state.routed:
        task = NewTask(lead, interaction, request.routing.queue, request.routing.channel, lead.priority,
                       lead.owner_id)
        state.rows.tasks.append(task)
        state.routed.add(id(lead))
    if request.thread_ref:
        state.threads[(request.channel, request.thread_ref)] = lead
    return _Outcome(request, contact, lead, interaction, task, created_contact, created_lead, reopened, pairs)


def _choose_lead(
    state: BatchState, request: IngestRequest, contact: AnyContact, policy: JoinPolicy, now: datetime,
) -> tuple[AnyLead, bool, bool]:
    candidates = state.leads.setdefault(id(contact), [])
    threaded = state.threads.get((request.channel, request.thread_ref)) if request.thread_ref else None
    hinted = state.hinted.get(request.lead_hint) if request.lead_hint is not None else None
    if threaded is None and hinted is not None and hinted.contact_id == contact.id:
        # A ticket number is easy to type or forge: it joins only its own client's lead.
        threaded = hinted
    open_leads = [lead for lead in candidates if lead.status in OPEN_STATUSES]
    closed = [lead for lead in candidates if lead.status not in OPEN_STATUSES and lead.closed_at is not None]

    lead: AnyLead | None = None
    reopened = False
    if threaded is not None and threaded.status in OPEN_STATUSES:
        lead = threaded
    elif threaded is not None and threaded.closed_at is not None:
        # The client answered that very conversation: it reopens however old it is.
        lead, reopened = threaded, True
    elif open_leads:
        latest = max(open_leads, key=lambda item: item.last_activity_at)
        if now - latest.last_activity_at <= policy.stale_after:
            lead = latest
    if lead is None and not open_leads and closed:
        latest_closed = max(closed, key=lambda item: item.closed_at)  # type: ignore[arg-type, return-value]
        if _recently_closed(latest_closed, policy, now):
            lead, reopened = latest_closed, True

    if lead is None:
        owner = contact.owner_id
        lead = NewLead(
            contact=contact, status=LeadStatus.NEW, priority=request.priority, channel=request.channel,
            source=dict(request.source), attributes=dict(request.attributes), subject=request.subject,
            owner_id=owner, team_id=state.owner_teams.get(owner) if owner else None, last_activity_at=now,
        )
        state.rows.leads.append(lead)
        candidates.append(lead)
        return lead, True, False

    lead.priority = max(lead.priority, request.priority)
    lead.last_activity_at = max(lead.last_activity_at, now)
    if not isinstance(lead, Lead):
        return lead, False, False
    if reopened:
        lead.status = LeadStatus.ASSIGNED if lead.assignee_id else LeadStatus.NEW
        lead.closed_at = None
        lead.outcome = None
        lead.lost_reason = None
    lead.updated_at = now
    return lead, False, reopened


def _recently_closed(lead: AnyLead, policy: JoinPolicy, now: datetime) -> bool:
    return lead.closed_at is not None and now - lead.closed_at <= policy.reopen_window


def _suggest_merges(
    session: Session, outcomes: list[_Outcome], now: datetime
) -> dict[tuple[str, str], list[MergeSuggestion]]:
    """Record each contact pair once; an existing suggestion for the pair is reused, not repeated."""
    wanted: dict[tuple[int, int], tuple[str, list[tuple[str, str]]]] = {}
    for o in outcomes:
        for a, b, reason in o.pairs:
            assert a.id is not None and b.id is not None  # inserted before suggestions are made
            if a.id == b.id:
                continue
            entry = wanted.setdefault((min(a.id, b.id), max(a.id, b.id)), (reason, []))
            entry[1].append((o.request.channel, o.request.event_id))
    if not wanted:
        return {}
    rows = session.scalars(
        select(MergeSuggestion).where(tuple_(MergeSuggestion.contact_a_id, MergeSuggestion.contact_b_id)
                                      .in_(list(wanted))))
    existing = {(s.contact_a_id, s.contact_b_id): s for s in rows}
    by_request: dict[tuple[str, str], list[MergeSuggestion]] = {}
    for (a, b), (reason, requests) in wanted.items():
        suggestion = existing.get((a, b))
        if suggestion is None:
            suggestion = MergeSuggestion(contact_a_id=a, contact_b_id=b, reason=reason[:500], status="pending",
                                         created_at=now)
            session.add(suggestion)
        for key in requests:
            by_request.setdefault(key, []).append(suggestion)
    session.flush()
    return by_request
