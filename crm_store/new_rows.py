"""Rows a batch creates, written with one executemany per table.

The ORM's unit of work costs far more per object than the INSERT itself, and so does fetching
generated keys back row by row. New rows in a batch are plain values; their ids are reserved up
front (a SQLite batch holds the write lock; PostgreSQL draws from the sequences), so the
inserts need no RETURNING.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm_store import search
from crm_store.many_rows import insert_rows
from crm_store.models import Contact, Identity, Interaction, Lead, RoutingTask, StageChange
from crm_store.prepared import driver_sql
from crm_store.task_refs import LeadTask


@dataclass(slots=True, eq=False)
class NewContact:
    display_name: str | None
    created_at: datetime
    owner_id: int | None = None
    id: int | None = None


@dataclass(slots=True, eq=False)
class NewLead:
    """Has the attributes lead-joining reads, so new and stored leads are chosen alike."""

    contact: Contact | NewContact
    status: str
    priority: int
    channel: str
    source: dict[str, Any]
    attributes: dict[str, Any]
    subject: str | None
    owner_id: int | None
    team_id: int | None
    last_activity_at: datetime
    assignee_id: int | None = None
    closed_at: datetime | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None
    id: int | None = None


@dataclass(slots=True, eq=False)
class NewInteraction:
    lead: Lead | NewLead
    contact: Contact | NewContact
    values: dict[str, Any]
    id: int | None = None


@dataclass(slots=True, eq=False)
class NewTask:
    """A routing task created in the same commit as the event that needs it: no lead is left unrouted."""

    lead: Lead | NewLead
    interaction: NewInteraction
    queue: str
    channel: str
    priority: int
    owner_id: int | None
    id: str | None = None


@dataclass(slots=True)
class NewRows:
    contacts: list[NewContact] = field(default_factory=list)
    leads: list[NewLead] = field(default_factory=list)
    interactions: list[NewInteraction] = field(default_factory=list)
    identities: list[tuple[Contact | NewContact, str, str, str]] = field(default_factory=list)
    tasks: list[NewTask] = field(default_factory=list)

    def insert(self, session: Session, now: datetime) -> None:
        """Insert everything in dependency order, filling in the new ids."""
        groups = (("contacts", self.contacts), ("leads", self.leads), ("interactions", self.interactions))
        reserved = reserve_id_ranges(session, {table: len(items) for table, items in groups})
        for table, items in groups:
            for item, new_id in zip(items, reserved[table], strict=True):
                item.id = new_id
        # Plain inserts on the tables: the ORM's bulk path re-inspects every row dict for nothing here.
        connection = session.connection()
        if self.contacts:
            insert_rows(connection, Contact.__table__, [
                {"id": c.id, "display_name": c.display_name, "owner_id": c.owner_id, "created_at": now,
                 "updated_at": now} for c in self.contacts])
        if self.leads:
            docs = self._search_texts(session)
            insert_rows(connection, Lead.__table__, [
                {"id": lead.id, "contact_id": lead.contact.id, "status": lead.status, "priority": lead.priority,
                 "channel": lead.channel, "source": lead.source, "attributes": lead.attributes,
                 "subject": lead.subject, "notes": "", "owner_id": lead.owner_id, "team_id": lead.team_id,
                 "created_at": now, "updated_at": now, "last_activity_at": lead.last_activity_at,
                 "search_text": docs[id(lead)],
                 "pipeline_id": lead.pipeline_id, "stage_id": lead.stage_id,
                 "stage_entered_at": now if lead.stage_id is not None else None}
                for lead in self.leads])
            entered = [lead for lead in self.leads if lead.stage_id is not None]
            if entered:    # the funnel's history starts when the lead does
                insert_rows(connection, StageChange.__table__, [
                    {"lead_id": lead.id, "pipeline_id": lead.pipeline_id, "from_stage_id": None,
                     "to_stage_id": lead.stage_id, "at": now, "user_id": None} for lead in entered])
        if self.interactions:
            insert_rows(connection, Interaction.__table__, [
                {**i.values, "id": i.id, "lead_id": i.lead.id, "contact_id": i.contact.id}
                for i in self.interactions])
        if self.tasks:
            for task in self.tasks:
                task.id = LeadTask(task.lead.id, task.interaction.id).encode()
            insert_rows(connection, RoutingTask.__table__, [
                {"id": t.id, "lead_id": t.lead.id, "kind": "lead", "channel": t.channel, "queue": t.queue,
                 "priority": t.priority, "owner_id": t.owner_id, "state": "pending",
                 "created_at": now} for t in self.tasks])
        if self.identities:
            insert_rows(connection, Identity.__table__, [
                {"contact_id": contact.id, "kind": kind, "value": value, "confidence": confidence,
                 "created_at": now} for contact, kind, value, confidence in self.identities])

    def _search_texts(self, session: Session) -> dict[int, str]:
        """The search text of each new lead, written with the row.

        A new contact's lead is made of this batch alone (no stored identity, lead or message). A stored
        contact's new lead is made of what the batch read of it (its name and every identity, loaded with it
        by the prefetch), the identities this batch adds, and its companies (one read): written once, where
        `search.refresh` read it back and rewrote the row (an UPDATE, and the trigram index's delete and
        insert). Its older leads still go through `search.refresh` when the batch renames the client or
        gives them an identity (crm_store.resolution).
        """
        identities: dict[int, list[tuple[str, str]]] = {}
        stored = {id(lead.contact): lead.contact for lead in self.leads if isinstance(lead.contact, Contact)}
        for contact in stored.values():     # in the order of their ids, as refresh reads them
            identities[id(contact)] = [(i.kind, i.value) for i in sorted(contact.identities, key=_by_id)]
        for contact, kind, value, _ in self.identities:    # new ones: inserted after, so numbered after
            identities.setdefault(id(contact), []).append((kind, value))
        companies = search.company_names(session, (c.id for c in stored.values())) if stored else {}
        opening: dict[int, str | None] = {}
        for interaction in self.interactions:   # the lead's first one (a note shown before the message first)
            opening.setdefault(id(interaction.lead), interaction.values.get("text"))
        return {id(lead): search.document(
                    search.lead_name(lead.contact.display_name, companies.get(lead.contact.id, ()))
                    if isinstance(lead.contact, Contact) else lead.contact.display_name,
                    identities.get(id(lead.contact), ()), lead.subject, "", opening.get(id(lead)))
                for lead in self.leads}


def _by_id(identity: Identity) -> int:
    return identity.id


def begin_write(session: Session) -> None:
    """Take SQLite's write lock at the start of a batch, so the ids reserved stay ours until commit."""
    if session.bind.dialect.name == "sqlite":
        driver_sql(session.connection(), "BEGIN IMMEDIATE")


# The SQLite statement per set of tables, made once (a text() clause built per batch costs its compilation).
_LAST_IDS: dict[tuple[str, ...], str] = {}


def reserve_id_ranges(session: Session, counts: dict[str, int]) -> dict[str, list[int]]:
    """Fresh primary keys for each of `counts`' tables (ours, never user input), in one statement on SQLite."""
    wanted = {table: count for table, count in counts.items() if count}
    ids: dict[str, list[int]] = {table: [] for table in counts}
    if not wanted:
        return ids
    if session.bind.dialect.name == "sqlite":
        # Under the write lock, max(id)+1... is exactly what SQLite itself would assign.
        key = tuple(wanted)
        if key not in _LAST_IDS:
            _LAST_IDS[key] = "SELECT " + ", ".join(f"(SELECT coalesce(max(id), 0) FROM {table})" for table in key)
        [lasts] = driver_sql(session.connection(), _LAST_IDS[key])
        for (table, count), last in zip(wanted.items(), lasts, strict=True):
            ids[table] = list(range(last + 1, last + 1 + count))
        return ids
    for table, count in wanted.items():
        ids[table] = list(session.scalars(
            text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"),
            {"n": count}))
    return ids
