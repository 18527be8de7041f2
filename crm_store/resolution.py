"""One batch of inbound events, resolved inside one transaction: who is it, which lead, what is new.

Everything the batch needs is read up front in a handful of set queries; the events are then
resolved in memory, in arrival order, so that two events of one client in the same batch see
each other; the writes go out in one flush.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm_store.models import Contact, Identity, Interaction, Lead, MergeSuggestion, User
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
    contact: Contact
    lead: Lead
    interaction: Interaction
    created_contact: bool
    created_lead: bool
    reopened: bool
    pairs: list[tuple[Contact, Contact, str]] = field(default_factory=list)


@dataclass(slots=True)
class _BatchState:
    identities: dict[tuple[str, str], Identity] = field(default_factory=dict)
    kinds: dict[int, dict[str, set[str]]] = field(default_factory=dict)   # id(contact) -> kind -> values
    leads: dict[int, list[Lead]] = field(default_factory=dict)             # id(contact) -> candidates
    threads: dict[tuple[str, str], Lead] = field(default_factory=dict)
    owner_teams: dict[int, int | None] = field(default_factory=dict)


async def resolve_batch(
    session: AsyncSession, requests: list[IngestRequest], policy: JoinPolicy, now: datetime
) -> list[IngestResult]:
    """Persist `requests` (not yet committed) and return one result per request, in order."""
    done = await _already_stored(session, requests)
    fresh = [r for r in requests if (r.channel, r.event_id) not in done]
    state = await _prefetch(session, fresh, policy, now)
    outcomes: dict[tuple[str, str], _Outcome] = {}
    for request in fresh:
        key = (request.channel, request.event_id)
        if key not in outcomes:
            outcomes[key] = _resolve_one(session, state, request, policy, now)
    suggestion_ids = await _suggest_merges(session, list(outcomes.values()), now)
    await session.flush()

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
            priority=o.lead.priority,
        ))
        seen.add(key)
    return results


async def _already_stored(session: AsyncSession, requests: list[IngestRequest]) -> dict[tuple[str, str], IngestResult]:
    keys = {(r.channel, r.event_id) for r in requests}
    rows = await session.execute(
        select(Interaction.channel, Interaction.event_id, Interaction.id, Interaction.contact_id,
               Lead.id, Lead.status, Lead.owner_id, Lead.assignee_id, Lead.priority)
        .join(Lead, Lead.id == Interaction.lead_id)
        .where(tuple_(Interaction.channel, Interaction.event_id).in_(keys))
    )
    return {
        (channel, event_id): IngestResult(
            lead_id=lead_id, contact_id=contact_id, interaction_id=interaction_id,
            created_lead=False, created_contact=False, duplicate=True,
            lead_status=status, owner_id=owner_id, assignee_id=assignee_id, priority=priority,
        )
        for channel, event_id, interaction_id, contact_id, lead_id, status, owner_id, assignee_id, priority in rows
    }


async def _prefetch(
    session: AsyncSession, requests: list[IngestRequest], policy: JoinPolicy, now: datetime
) -> _BatchState:
    state = _BatchState()
    claim_keys = {(c.kind, c.value) for r in requests for c in r.claims}
    if claim_keys:
        found = await session.scalars(
            select(Identity)
            .where(tuple_(Identity.kind, Identity.value).in_(claim_keys))
            .options(selectinload(Identity.contact).selectinload(Contact.identities))
        )
        for identity in found:
            state.identities[(identity.kind, identity.value)] = identity
            state.kinds.setdefault(id(identity.contact), _kinds_of(identity.contact))
    contacts = {i.contact for i in state.identities.values()}

    thread_keys = {(r.channel, r.thread_ref) for r in requests if r.thread_ref}
    thread_lead_ids: dict[tuple[str, str], int] = {}
    if thread_keys:
        rows = await session.execute(
            select(Interaction.channel, Interaction.thread_ref, Interaction.lead_id)
            .where(tuple_(Interaction.channel, Interaction.thread_ref).in_(thread_keys))
            .order_by(Interaction.id)
        )
        thread_lead_ids = {(channel, ref): lead_id for channel, ref, lead_id in rows}

    contact_ids = {c.id for c in contacts}
    if contact_ids or thread_lead_ids:
        leads = await session.scalars(
            select(Lead).where(
                Lead.deleted_at.is_(None),
                or_(
                    Lead.id.in_(set(thread_lead_ids.values())),
                    Lead.contact_id.in_(contact_ids)
                    & or_(Lead.status.in_(OPEN_STATUSES), Lead.closed_at >= now - policy.reopen_window),
                ),
            )
        )
        by_id = {lead.id: lead for lead in leads}
        by_contact = {c.id: c for c in contacts}
        for lead in by_id.values():
            if lead.contact_id in by_contact:
                state.leads.setdefault(id(by_contact[lead.contact_id]), []).append(lead)
        state.threads = {k: by_id[v] for k, v in thread_lead_ids.items() if v in by_id}

    owner_ids = {c.owner_id for c in contacts if c.owner_id is not None}
    if owner_ids:
        rows = await session.execute(select(User.id, User.team_id).where(User.id.in_(owner_ids)))
        state.owner_teams = {user_id: team_id for user_id, team_id in rows}
    return state


def _kinds_of(contact: Contact) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for identity in contact.identities:
        kinds.setdefault(identity.kind, set()).add(identity.value)
    return kinds


def _conflicts(state: _BatchState, contact: Contact, claims: list[Claim]) -> str | None:
    """The external id of `contact` that contradicts `claims`, if any."""
    kinds = state.kinds.get(id(contact), {})
    for claim in claims:
        if claim.kind in MULTI_VALUED_KINDS:
            continue
        other = kinds.get(claim.kind, set()) - {claim.value}
        if other:
            return f"conflicting {claim.kind} ids: {sorted(other)[0]} and {claim.value}"
    return None


def _resolve_one(
    session: AsyncSession, state: _BatchState, request: IngestRequest, policy: JoinPolicy, now: datetime
) -> _Outcome:
    strong = [c for c in request.claims if c.strong]
    weak = [c for c in request.claims if not c.strong]
    matched: dict[int, tuple[Contact, list[Claim]]] = {}
    for claim in strong:
        identity = state.identities.get((claim.kind, claim.value))
        if identity is not None:
            matched.setdefault(id(identity.contact), (identity.contact, []))[1].append(claim)

    pairs: list[tuple[Contact, Contact, str]] = []
    conflicted: list[tuple[Contact, str]] = []
    contact: Contact | None = None
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
        contact = Contact(display_name=request.name, created_at=now, updated_at=now, owner_id=None)
        contact.identities = []
        session.add(contact)
        state.kinds[id(contact)] = {}
        pairs.extend((other, contact, reason) for other, reason in conflicted)
    elif not contact.display_name and request.name:
        contact.display_name = request.name

    for claim in strong:
        identity = state.identities.get((claim.kind, claim.value))
        if identity is None:
            identity = Identity(contact=contact, kind=claim.kind, value=claim.value,
                                confidence=claim.confidence, created_at=now)
            session.add(identity)
            state.identities[(claim.kind, claim.value)] = identity
            state.kinds[id(contact)].setdefault(claim.kind, set()).add(claim.value)
        elif identity.contact is contact and claim.confidence == "verified" and identity.confidence != "verified":
            identity.confidence = "verified"
    for claim in weak:
        identity = state.identities.get((claim.kind, claim.value))
        if identity is not None and identity.contact is not contact:
            pairs.append((contact, identity.contact, f"{claim.kind} {claim.value} mentioned in a message"))

    lead, created_lead, reopened = _choose_lead(session, state, request, contact, policy, now)
    interaction = Interaction(
        lead=lead, contact=contact, channel=request.channel, event_id=request.event_id,
        direction=request.direction, text=request.text, subject=request.subject,
        thread_ref=request.thread_ref, attributes=dict(request.attributes), created_at=request.received_at,
    )
    session.add(interaction)
    if request.thread_ref:
        state.threads[(request.channel, request.thread_ref)] = lead
    return _Outcome(request, contact, lead, interaction, created_contact, created_lead, reopened, pairs)


def _choose_lead(
    session: AsyncSession, state: _BatchState, request: IngestRequest, contact: Contact,
    policy: JoinPolicy, now: datetime,
) -> tuple[Lead, bool, bool]:
    candidates = state.leads.setdefault(id(contact), [])
    threaded = state.threads.get((request.channel, request.thread_ref)) if request.thread_ref else None
    open_leads = [lead for lead in candidates if lead.status in OPEN_STATUSES]
    closed = [lead for lead in candidates if lead.status not in OPEN_STATUSES and lead.closed_at is not None]

    lead: Lead | None = None
    reopened = False
    if threaded is not None and threaded.status in OPEN_STATUSES:
        lead = threaded
    elif threaded is not None and _recently_closed(threaded, policy, now):
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
        lead = Lead(
            contact=contact, status=LeadStatus.NEW, priority=request.priority, channel=request.channel,
            source=dict(request.source), attributes=dict(request.attributes), subject=request.subject,
            notes="", owner_id=owner, assignee_id=None, team_id=state.owner_teams.get(owner) if owner else None,
            created_at=now, updated_at=now, last_activity_at=now, closed_at=None, deleted_at=None,
        )
        session.add(lead)
        candidates.append(lead)
        return lead, True, False

    if reopened:
        lead.status = LeadStatus.ASSIGNED if lead.assignee_id else LeadStatus.NEW
        lead.closed_at = None
        lead.outcome = None
        lead.lost_reason = None
    lead.priority = max(lead.priority, request.priority)
    lead.last_activity_at = max(lead.last_activity_at, now)
    lead.updated_at = now
    return lead, False, reopened


def _recently_closed(lead: Lead, policy: JoinPolicy, now: datetime) -> bool:
    return lead.closed_at is not None and now - lead.closed_at <= policy.reopen_window


async def _suggest_merges(
    session: AsyncSession, outcomes: list[_Outcome], now: datetime
) -> dict[tuple[str, str], list[MergeSuggestion]]:
    """Record each contact pair once; an existing suggestion for the pair is reused, not repeated."""
    wanted: dict[tuple[int, int], tuple[Contact, Contact, str, list[tuple[str, str]]]] = {}
    for o in outcomes:
        for a, b, reason in o.pairs:
            if a is b:
                continue
            # Persistent contacts are ordered by id so the pair's unique key is stable.
            if a.id is not None and b.id is not None and a.id > b.id:
                a, b = b, a
            key = (id(a), id(b))
            entry = wanted.setdefault(key, (a, b, reason, []))
            entry[3].append((o.request.channel, o.request.event_id))
    if not wanted:
        return {}
    known = [(a.id, b.id) for a, b, _, _ in wanted.values() if a.id is not None and b.id is not None]
    existing: dict[tuple[int, int], MergeSuggestion] = {}
    if known:
        rows = await session.scalars(
            select(MergeSuggestion).where(tuple_(MergeSuggestion.contact_a_id, MergeSuggestion.contact_b_id).in_(known))
        )
        existing = {(s.contact_a_id, s.contact_b_id): s for s in rows}
    by_request: dict[tuple[str, str], list[MergeSuggestion]] = {}
    for a, b, reason, requests in wanted.values():
        suggestion = existing.get((a.id, b.id)) if a.id is not None and b.id is not None else None
        if suggestion is None:
            suggestion = MergeSuggestion(contact_a=a, contact_b=b, reason=reason[:500], status="pending", created_at=now)
            session.add(suggestion)
        for key in requests:
            by_request.setdefault(key, []).append(suggestion)
    return by_request
