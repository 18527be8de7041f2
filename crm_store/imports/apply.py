"""One batch of imported rows in one transaction: each row resolved against the clients already known.

The same rules as live contacts (crm_store.resolution): an identity `(kind, value)` belongs to one client,
a row carrying a known phone, e-mail or messenger id joins that client, and a row naming two known clients
joins the first and leaves a merge suggestion for a manager. Everything the batch needs is read up front
in a few set queries; rows are resolved in memory in file order (so two rows of one client in a batch see
each other); new rows go out with one executemany per table, like the intake's batches.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from crm_store import search
from crm_store.batch_state import _pairs_in
from crm_store.models import (
    AuditEntry, Company, Contact, ContactCompany, Identity, ImportJob, ImportReject, Interaction, Lead,
    MergeSuggestion, Pipeline, Stage, StageChange, User,
)
from crm_store.imports.types import Counts, ImportRow, OnMatch, Reject, RunOptions
from crm_store.new_rows import reserve_id_ranges

CHANNEL = "import"
STATUS_OF_KIND = {"open": "new", "won": "won", "lost": "lost", "closed": "closed"}


@dataclass(slots=True, eq=False)
class _NewContact:
    name: str | None
    tags: list[str]
    custom: dict[str, Any]
    owner_id: int | None
    id: int | None = None


@dataclass(slots=True, eq=False)
class _CompanyRef:
    """A company rows link to: stored (its id read), or new in this batch (its id reserved when inserted)."""

    name: str
    id: int | None = None


class _Rehearsed:
    """A client an earlier batch of this dry run would have created: rows join it and are counted, never written."""

    __slots__ = ()


AnyContact = Contact | _NewContact | _Rehearsed
AnyCompany = _CompanyRef


@dataclass(slots=True)
class Rehearsal:
    """What the earlier batches of one dry run would have left: each batch is rolled back, so without this a
    client repeated in two batches would be counted as new twice, and a row imported twice as two leads."""

    identities: dict[tuple[str, str], int | _Rehearsed] = field(default_factory=dict)  # -> stored client's id
    fingerprints: set[str] = field(default_factory=set)

    def seed(self, session: Session, found: _Lookups, rows: Sequence[ImportRow]) -> None:
        """Put what earlier batches would have written into this batch's look-ups, where the database has nothing."""
        wanted = {key: self.identities[key] for row in rows for key in row.identities
                  if key not in found.identities and key in self.identities}
        stored = {held for held in wanted.values() if isinstance(held, int)}
        clients = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(stored)))} if stored else {}
        for key, held in wanted.items():
            client = clients.get(held) if isinstance(held, int) else held
            if client is not None:
                found.identities[key] = client
        found.imported |= {row.fingerprint for row in rows if row.fingerprint in self.fingerprints}

    def remember(self, found: _Lookups) -> None:
        """After the batch: every identity it saw or would have added, and every lead it would have imported."""
        stand_ins: dict[int, _Rehearsed] = {}
        for key, client in found.identities.items():
            if isinstance(client, Contact):
                self.identities[key] = client.id
            elif isinstance(client, _NewContact):
                self.identities[key] = stand_ins.setdefault(id(client), _Rehearsed())
            else:
                self.identities[key] = client
        self.fingerprints |= found.imported


@dataclass(slots=True)
class _Lookups:
    identities: dict[tuple[str, str], AnyContact] = field(default_factory=dict)
    imported: set[str] = field(default_factory=set)                  # fingerprints with a lead already
    users: dict[str, User] = field(default_factory=dict)             # login and e-mail, lower-cased
    pipelines: list[Pipeline] = field(default_factory=list)
    stages: dict[int, list[Stage]] = field(default_factory=dict)
    companies: dict[str, AnyCompany] = field(default_factory=dict)   # lower-cased name
    links: set[tuple[int, str]] = field(default_factory=set)        # (id(contact), company name) linked already


@dataclass(slots=True)
class BatchResult:
    counts: Counts
    rejects: list[Reject]


def apply_batch(session: Session, rows: Sequence[ImportRow], rejects: Sequence[Reject], options: RunOptions,
                cursor: int, now: datetime, rehearsal: Rehearsal | None = None) -> BatchResult:
    """Write `rows` (mapped), record `rejects` (refused while mapping) and move the job's cursor, in one transaction.

    `rehearsal`: a dry run's batch (rolled back afterwards) that must see what the run's earlier batches would have
    written."""
    counts = Counts(invalid=len(rejects))
    refused = list(rejects)
    found = _lookups(session, rows)
    if rehearsal is not None:
        rehearsal.seed(session, found, rows)
    rehearsed_pairs: set[frozenset[int]] = set()
    new_contacts: list[_NewContact] = []
    new_identities: list[tuple[AnyContact, str, str]] = []
    new_links: list[tuple[AnyContact, AnyCompany, str | None]] = []
    new_companies: list[_CompanyRef] = []
    new_leads: list[tuple[AnyContact, dict[str, Any], ImportRow]] = []
    pairs: list[tuple[AnyContact, AnyContact, str]] = []
    touched: set[int] = set()
    for row in rows:
        lead_values: dict[str, Any] | None = None
        if row.lead is not None:
            if row.fingerprint in found.imported:
                counts.skipped += 1       # this very row was imported before: nothing new
                continue
            lead_values, problem = _lead_values(found, row, now)
            if problem is not None:
                counts.invalid += 1
                refused.append(Reject(row.number, problem, row.raw))
                continue
        known: list[AnyContact] = []
        for key in row.identities:
            contact = found.identities.get(key)
            if contact is not None and all(contact is not k for k in known):
                known.append(contact)
        if known and options.on_match is OnMatch.SKIP:
            counts.skipped += 1
            continue
        if known:
            contact = known[0]
            counts.joined += 1
            for other in known[1:]:
                if isinstance(contact, _Rehearsed) or isinstance(other, _Rehearsed):
                    rehearsed_pairs.add(frozenset((id(contact), id(other))))
                else:
                    pairs.append((contact, other, f"import row {row.number} named both clients"))
            if not isinstance(contact, _Rehearsed):
                _update(contact, row, options.on_match, now)
            if isinstance(contact, Contact):
                touched.add(contact.id)
        else:
            contact = _NewContact(row.name, list(dict.fromkeys(row.tags)), dict(row.contact_fields), None)
            new_contacts.append(contact)
            counts.created += 1
        for kind, value in row.identities:
            if (kind, value) not in found.identities:
                found.identities[(kind, value)] = contact
                if not isinstance(contact, _Rehearsed):
                    new_identities.append((contact, kind, value))
        # An earlier batch's client has no row here to link a company to or to hang a lead on: only counted.
        rehearsed = isinstance(contact, _Rehearsed)
        if row.company and not rehearsed and (id(contact), row.company.lower()) not in found.links:
            found.links.add((id(contact), row.company.lower()))
            new_links.append((contact, _company(found, row.company, new_companies), row.position))
        if lead_values is not None:
            found.imported.add(row.fingerprint)
            if not rehearsed:
                new_leads.append((contact, lead_values, row))
            counts.leads += 1
    session.flush()
    _insert(session, new_contacts, new_companies, new_identities, new_links, new_leads, options, now)
    counts.merges = _suggest(session, pairs, now) + len(rehearsed_pairs)
    if rehearsal is not None:
        rehearsal.remember(found)
    search.refresh(session, touched)
    record_progress(session, options, cursor, counts, refused, now)
    return BatchResult(counts, refused)


def _lookups(session: Session, rows: Sequence[ImportRow]) -> _Lookups:
    found = _Lookups()
    keys = {key for row in rows for key in row.identities}
    if keys:
        for identity in session.scalars(select(Identity).where(_pairs_in(Identity.kind, Identity.value, keys))
                                        .options(selectinload(Identity.contact))):
            contact = identity.contact
            while contact.merged_into_id is not None:      # a merged-away client's identities moved on
                contact = session.get(Contact, contact.merged_into_id)  # type: ignore[assignment]
            found.identities[(identity.kind, identity.value)] = contact
    prints = [f"{CHANNEL}:{row.fingerprint}" for row in rows if row.lead is not None]
    if prints:
        found.imported = {e.removeprefix(f"{CHANNEL}:") for e in session.scalars(
            select(Interaction.event_id).where(Interaction.channel == CHANNEL, Interaction.event_id.in_(prints)))}
    owners = {row.lead.owner.lower() for row in rows if row.lead is not None and row.lead.owner}
    if owners:
        for user in session.scalars(select(User).where(
                func.lower(User.username).in_(owners) | func.lower(User.email).in_(owners))):
            found.users[user.username.lower()] = user
            if user.email:
                found.users[user.email.lower()] = user
    if any(row.lead is not None for row in rows):
        found.pipelines = list(session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id)))
        for stage in session.scalars(select(Stage).where(Stage.retired.is_(False)).order_by(Stage.position)):
            found.stages.setdefault(stage.pipeline_id, []).append(stage)
    spelled = {row.company[:300] for row in rows if row.company}
    if spelled:
        # SQLite's lower() (and PostgreSQL's under the C locale) folds ASCII only: «ООО Ромашка» would never meet
        # its own lower-cased name, and every batch would add the company again. The names as spelled find those.
        names = {name.lower() for name in spelled}
        # Id and name only: whole rows would decode four JSON columns apiece, 500 companies a batch.
        for company_id, name in session.execute(select(Company.id, Company.name).where(
                Company.name.in_(spelled) | func.lower(Company.name).in_(names),
                Company.deleted_at.is_(None)).order_by(Company.id)):
            found.companies.setdefault(name.lower(), _CompanyRef(name, company_id))
        stored = [c.id for c in set(found.identities.values()) if isinstance(c, Contact)]
        if stored:
            by_id = {c.id: c for c in found.identities.values() if isinstance(c, Contact)}
            for contact_id, name in session.execute(
                    select(ContactCompany.contact_id, Company.name).join(Company, Company.id == ContactCompany.company_id)
                    .where(ContactCompany.contact_id.in_(stored))):
                found.links.add((id(by_id[contact_id]), name.lower()))
    return found


def _lead_values(found: _Lookups, row: ImportRow, now: datetime) -> tuple[dict[str, Any], str | None]:
    """The lead's column values, or why the row is refused (an unknown pipeline, stage or owner)."""
    part = row.lead
    assert part is not None
    if not found.pipelines:
        return {}, "there is no pipeline to put the lead in"
    pipeline = found.pipelines[0]
    if part.pipeline:
        wanted = part.pipeline.strip().lower()
        match = next((p for p in found.pipelines if wanted in (p.name.lower(), p.key.lower())), None)
        if match is None:
            return {}, f"pipeline {part.pipeline!r} does not exist"
        pipeline = match
    stages = found.stages.get(pipeline.id, [])
    stage = next((s for s in stages if s.kind == "open"), stages[0] if stages else None)
    if part.stage:
        stage = next((s for s in stages if s.name.lower() == part.stage.strip().lower()), None)
        if stage is None:
            return {}, f"stage {part.stage!r} is not in pipeline {pipeline.name!r}"
    owner = None
    if part.owner:
        owner = found.users.get(part.owner.strip().lower())
        if owner is None:
            return {}, f"owner {part.owner!r} is neither a login nor a user's e-mail"
    status = (stage.status if stage is not None and stage.status else STATUS_OF_KIND.get(stage.kind, "new")
              if stage is not None else "new")
    created = part.created_at or now
    closed = status in ("won", "lost", "closed")
    return {
        "status": status, "priority": 0, "channel": CHANNEL,
        "source": {"source": part.source} if part.source else {}, "attributes": {"import_row": row.number, **({"fields": dict(part.fields)} if part.fields else {})},
        "subject": part.title, "notes": part.notes, "owner_id": owner.id if owner else None,
        "assignee_id": owner.id if owner else None, "team_id": owner.team_id if owner else None,
        "outcome": status if status in ("won", "lost") else None,
        "created_at": created, "updated_at": now, "last_activity_at": created,
        "closed_at": created if closed else None,
        "pipeline_id": pipeline.id, "stage_id": stage.id if stage else None,
        "stage_entered_at": created if stage else None,
        "amount": part.amount, "currency": (part.currency or "RUB") if part.amount is not None else None,
    }, None


def _update(contact: AnyContact, row: ImportRow, how: OnMatch, now: datetime) -> None:
    """Fill what the client lacks, or (overwrite) let the file win; tags are added either way."""
    overwrite = how is OnMatch.OVERWRITE
    if row.name and (overwrite or not _name(contact)):
        _set_name(contact, row.name)
    tags = list(dict.fromkeys([*(contact.tags or []), *row.tags]))
    custom = dict(contact.custom or {})
    for key, value in row.contact_fields.items():
        if overwrite or key not in custom:
            custom[key] = value
    if tags != list(contact.tags or []):
        contact.tags = tags
    if custom != dict(contact.custom or {}):
        contact.custom = custom
    if isinstance(contact, Contact):
        contact.updated_at = now


def _name(contact: AnyContact) -> str | None:
    return contact.display_name if isinstance(contact, Contact) else contact.name


def _set_name(contact: AnyContact, name: str) -> None:
    if isinstance(contact, Contact):
        contact.display_name = name
    else:
        contact.name = name


def _company(found: _Lookups, name: str, new: list[_CompanyRef]) -> AnyCompany:
    key = name.lower()
    company = found.companies.get(key)
    if company is None:
        company = _CompanyRef(name[:300])
        new.append(company)
        found.companies[key] = company
    return company


def _insert(session: Session, contacts: list[_NewContact], companies: list[_CompanyRef],
            identities: list[tuple[AnyContact, str, str]], links: list[tuple[AnyContact, AnyCompany, str | None]],
            leads: list[tuple[AnyContact, dict[str, Any], ImportRow]], options: RunOptions, now: datetime) -> None:
    reserved = reserve_id_ranges(session, {"contacts": len(contacts), "companies": len(companies),
                                           "leads": len(leads), "interactions": len(leads)})
    for contact, new_id in zip(contacts, reserved["contacts"], strict=True):
        contact.id = new_id
    for company, new_id in zip(companies, reserved["companies"], strict=True):
        company.id = new_id
    connection = session.connection()
    if companies:
        connection.execute(Company.__table__.insert(), [
            {"id": c.id, "name": c.name, "addresses": [], "phones": [], "emails": [], "custom": {},
             "search_text": search.document(c.name, (), None, "", None), "created_at": now, "updated_at": now}
            for c in companies])
    if contacts:
        connection.execute(Contact.__table__.insert(), [
            {"id": c.id, "display_name": c.name, "owner_id": c.owner_id, "tags": c.tags, "custom": c.custom,
             "created_at": now, "updated_at": now} for c in contacts])
    if identities:
        connection.execute(Identity.__table__.insert(), [
            {"contact_id": c.id, "kind": kind, "value": value, "confidence": "stated", "created_at": now}
            for c, kind, value in identities])
    if links:
        connection.execute(ContactCompany.__table__.insert(), [
            {"contact_id": c.id, "company_id": company.id, "position": position, "created_at": now}
            for c, company, position in links])
    if not leads:
        return
    lead_rows, interaction_rows, entered = [], [], []
    ids_of: dict[int, list[tuple[str, str]]] = {}
    for c, kind, value in identities:
        ids_of.setdefault(id(c), []).append((kind, value))
    orgs_of: dict[int, list[str]] = {}
    for c, company, _ in links:
        orgs_of.setdefault(id(c), []).append(company.name)
    for (contact, values, row), lead_id, interaction_id in zip(leads, reserved["leads"], reserved["interactions"],
                                                                strict=True):
        name = " | ".join(n for n in (_name(contact), *orgs_of.get(id(contact), ())) if n)
        lead_rows.append({**values, "id": lead_id, "contact_id": contact.id,
                          "search_text": search.document(name, ids_of.get(id(contact), ()), values["subject"],
                                                         values["notes"], None)})
        interaction_rows.append({
            "id": interaction_id, "lead_id": lead_id, "contact_id": contact.id, "channel": CHANNEL,
            "event_id": f"{CHANNEL}:{row.fingerprint}", "direction": "internal", "text": "", "subject": None,
            "thread_ref": None, "author_id": options.user_id, "delivery": None, "created_at": values["created_at"],
            "attributes": {"import_id": options.import_id, "row": row.number}})
        if values["stage_id"] is not None:
            entered.append({"lead_id": lead_id, "pipeline_id": values["pipeline_id"], "from_stage_id": None,
                            "to_stage_id": values["stage_id"], "at": values["created_at"], "user_id": options.user_id})
    connection.execute(Lead.__table__.insert(), lead_rows)
    connection.execute(Interaction.__table__.insert(), interaction_rows)
    if entered:
        connection.execute(StageChange.__table__.insert(), entered)


def _suggest(session: Session, pairs: list[tuple[AnyContact, AnyContact, str]], now: datetime) -> int:
    """A merge suggestion per pair of known clients one row named, once per pair; returns how many are new."""
    wanted: dict[tuple[int, int], str] = {}
    for a, b, reason in pairs:
        assert a.id is not None and b.id is not None
        if a.id != b.id:
            wanted.setdefault((min(a.id, b.id), max(a.id, b.id)), reason)
    if not wanted:
        return 0
    existing = {(s.contact_a_id, s.contact_b_id) for s in session.scalars(select(MergeSuggestion).where(
        MergeSuggestion.contact_a_id.in_({a for a, _ in wanted})))}
    fresh = [pair for pair in wanted if pair not in existing]
    if fresh:
        session.execute(insert(MergeSuggestion), [
            {"contact_a_id": a, "contact_b_id": b, "reason": wanted[(a, b)][:500], "status": "pending",
             "created_at": now} for a, b in fresh])
    return len(fresh)


def record_progress(session: Session, options: RunOptions, cursor: int, counts: Counts, rejects: list[Reject],
            now: datetime) -> None:
    """The job's cursor and counts move with the rows they describe: a restart resumes exactly after them."""
    if options.import_id is None:
        return
    if rejects:
        session.execute(insert(ImportReject), [
            {"import_id": options.import_id, "row_number": r.number, "reason": r.reason[:500],
             "values": list(r.values)} for r in rejects])
    job = session.get(ImportJob, options.import_id, with_for_update=True)
    assert job is not None
    total = Counts(**{k: int(v) for k, v in (job.counts or {}).items() if k in Counts.__slots__})  # type: ignore[attr-defined]
    total.add(counts)
    session.execute(update(ImportJob).where(ImportJob.id == options.import_id).values(
        cursor=cursor, counts=total.as_dict(), updated_at=now))
    if counts.created or counts.joined or counts.leads:
        session.add(AuditEntry(at=now, user_id=options.user_id, action="import.batch", outcome="ok", lead_id=None,
                               contact_id=None, ip=None, detail={"import_id": options.import_id, "cursor": cursor,
                                                                 **counts.as_dict()}))
