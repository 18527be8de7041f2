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
from crm_store import search
from crm_store.audit import SYSTEM_ACTOR
from crm_store.many_rows import insert_rows
from crm_store.models import AuditEntry, Lead, MergeSuggestion
from crm_store.new_rows import NewContact, NewInteraction, NewLead, NewTask
from crm_store.types import OPEN_STATUSES, Claim, Direction, IngestRequest, IngestResult, LeadStatus, LeadOutcome

# A client has any number of these; every other kind (telegram, whatsapp, ...) is an external
# account id, and two different ids of one kind mean two different people or a shared device.
MULTI_VALUED_KINDS = frozenset({"phone", "email"})


@dataclass(frozen=True, slots=True)
class JoinPolicy:
    """When a new event continues an existing lead rather than opening another."""

    stale_after: timedelta = timedelta(days=30)      # an open lead idle longer than this is not continued
    reopen_window: timedelta = timedelta(hours=72)   # a resolved lead closed more recently than this is reopened


# A won or lost deal is history: a client who comes back starts a new deal. A resolved ticket is
# a question answered: the client coming back soon means it was not, so it reopens.
FINAL_OUTCOMES = frozenset({LeadOutcome.WON, LeadOutcome.LOST})


@dataclass(frozen=True, slots=True)
class LeadNote:
    """An automatic change of a lead, for the audit log (and, when `shown`, the lead's timeline)."""

    action: str          # lead.reopened / lead.followed_up / lead.joined
    reason: str
    shown: bool
    detail: dict[str, object] = field(default_factory=dict)


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
    note: LeadNote
    searchable_changed: bool     # the client's name or identities changed: the texts of their leads follow
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
    _audit_notes(session, list(outcomes.values()), now)
    # New leads got their search text with their row (NewRows.insert); a stored client's older leads
    # follow a new name or identity.
    search.refresh(session, {o.contact.id for o in outcomes.values()
                             if o.searchable_changed and not isinstance(o.contact, NewContact)})

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
    renamed = False
    if contact is None:
        contact = NewContact(display_name=request.name, created_at=now)
        state.rows.contacts.append(contact)
        state.kinds[id(contact)] = {}
        pairs.extend((other, contact, reason) for other, reason in conflicted)
    elif not contact.display_name and request.name:
        contact.display_name = request.name
        renamed = True
    identities_before = len(state.rows.identities)

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

    lead, created_lead, reopened, note = _choose_lead(state, request, contact, policy, now)
    if note.shown:
        # On the timeline, just before the message that caused it.
        state.rows.interactions.append(NewInteraction(lead, contact, {
            "channel": "system", "event_id": f"{note.action}:{request.channel}:{request.event_id}"[:300],
            "direction": Direction.INTERNAL, "text": note.reason, "subject": None, "thread_ref": None,
            "attributes": {"action": note.action, "actor": SYSTEM_ACTOR, **note.detail}, "created_at": now,
        }))
    attributes = dict(request.attributes)
    if not created_lead:
        attributes["joined_because"] = note.reason
    interaction = NewInteraction(lead, contact, {
        "channel": request.channel, "event_id": request.event_id, "direction": request.direction,
        "text": request.text, "subject": request.subject, "thread_ref": request.thread_ref,
        "attributes": attributes, "created_at": request.received_at,
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
    changed = created_contact or renamed or len(state.rows.identities) > identities_before
    return _Outcome(request, contact, lead, interaction, task, created_contact, created_lead, reopened, note,
                    changed, pairs)


def _choose_lead(
    state: BatchState, request: IngestRequest, contact: AnyContact, policy: JoinPolicy, now: datetime,
) -> tuple[AnyLead, bool, bool, LeadNote]:
    """The lead this event belongs to: (lead, created, reopened, why)."""
    candidates = state.leads.setdefault(id(contact), [])
    threaded = state.threads.get((request.channel, request.thread_ref)) if request.thread_ref else None
    hinted = state.hinted.get(request.lead_hint) if request.lead_hint is not None else None
    if threaded is None and hinted is not None and hinted.contact_id == contact.id:
        # A ticket number is easy to type or forge: it joins only its own client's lead.
        threaded = hinted
    open_leads = [lead for lead in candidates if lead.status in OPEN_STATUSES]
    closed = [lead for lead in candidates if lead.status not in OPEN_STATUSES and lead.closed_at is not None]

    lead: AnyLead | None = None
    note: LeadNote | None = None
    previous: AnyLead | None = None
    if threaded is not None and threaded.status in OPEN_STATUSES:
        lead, note = threaded, LeadNote("lead.joined", "a reply in the same conversation", False)
    elif threaded is not None and threaded.closed_at is not None:
        if _outcome(threaded) in FINAL_OUTCOMES:
            previous = threaded
        else:
            # The client answered that very conversation: it reopens however old it is.
            lead = threaded
            note = LeadNote("lead.reopened", "the client wrote again in the conversation of this closed lead",
                            True, {"outcome": _outcome(threaded)})
    elif open_leads:
        latest = max(open_leads, key=lambda item: item.last_activity_at)
        if now - latest.last_activity_at <= policy.stale_after:
            lead, note = latest, LeadNote("lead.joined", "the client's open lead", False)
    if lead is None and previous is None and not open_leads and closed:
        latest_closed = max(closed, key=lambda item: item.closed_at)  # type: ignore[arg-type, return-value]
        if _outcome(latest_closed) in FINAL_OUTCOMES:
            previous = latest_closed
        elif _recently_closed(latest_closed, policy, now):
            lead = latest_closed
            note = LeadNote("lead.reopened", "the client came back within the reopen window after the lead was "
                            "closed", True, {"outcome": _outcome(latest_closed)})

    if lead is None:
        owner = contact.owner_id
        attributes = dict(request.attributes)
        if previous is not None:
            attributes["previous_lead_id"] = previous.id
        lead = NewLead(
            contact=contact, status=LeadStatus.NEW, priority=request.priority, channel=request.channel,
            source=dict(request.source), attributes=attributes, subject=request.subject,
            owner_id=owner, team_id=state.owner_teams.get(owner) if owner else None, last_activity_at=now,
        )
        lead.pipeline_id, lead.stage_id = state.entries.get(request.pipeline) or (None, None)
        state.rows.leads.append(lead)
        candidates.append(lead)
        if previous is None:
            return lead, True, False, LeadNote("lead.created", "a new contact", False)
        return lead, True, False, LeadNote(
            "lead.followed_up", f"the client came back after lead {previous.id} was {_outcome(previous)}: "
            "a finished deal stays as it was", True, {"previous_lead_id": previous.id})

    assert note is not None
    lead.priority = max(lead.priority, request.priority)
    lead.last_activity_at = max(lead.last_activity_at, now)
    if not isinstance(lead, Lead):
        return lead, False, False, note
    reopened = note.action == "lead.reopened"
    if reopened:
        lead.status = LeadStatus.ASSIGNED if lead.assignee_id else LeadStatus.NEW
        lead.closed_at = None
        lead.outcome = None
        lead.lost_reason = None
        lead.handed_over_to = None
    lead.updated_at = now
    return lead, False, reopened, note


def _outcome(lead: AnyLead) -> str | None:
    """A closed lead's outcome; rows from before outcomes were kept count by their status."""
    outcome = getattr(lead, "outcome", None)
    if outcome is None and lead.status in (LeadStatus.WON, LeadStatus.LOST):
        return str(lead.status)
    return outcome


def _audit_notes(session: Session, outcomes: list[_Outcome], now: datetime) -> None:
    """Every automatic change of a lead goes to the audit log with the system as its actor."""
    rows = [{"at": now, "user_id": None, "action": o.note.action, "outcome": "ok", "lead_id": o.lead.id,
             "contact_id": o.contact.id, "ip": None,
             "detail": {"actor": SYSTEM_ACTOR, "reason": o.note.reason, "channel": o.request.channel,
                        "event_id": o.request.event_id, **o.note.detail}}
            for o in outcomes if o.note.action != "lead.created"]
    if rows:
        insert_rows(session.connection(), AuditEntry.__table__, rows)


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
