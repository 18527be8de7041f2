"""The end of each call, written in groups through the ingest writer: one transaction for all calls that ended meanwhile.

On SQLite there is one writer thread; were call records written from another connection, the two
would take turns at the write lock, sleeping in SQLite's busy handler (1 to 100 ms at a time) while
callers wait for their pops. The same transaction decides the callback a missed call owes (one open
task per lead: a second missed call collapses into it) and finds the callback an answered call settles.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import call_grants, calls, routing_log, tasks
from crm_store.calls import CALLBACK, VOICE
from crm_store.grouped_writes import GroupedWrites
from crm_store.ingest import Ingestor
from crm_store.models import Lead, Task


@dataclass(frozen=True, slots=True)
class Callback:
    """A missed call owes the client a call back, routed in `queue`."""
    queue: str
    priority: int
    at: datetime


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str
    lead_id: int
    interaction_id: int
    changes: Mapping[str, Any]
    pops: tuple[tuple[int, str, datetime], ...] = ()      # (user, extension, when): who saw the card
    callback: Callback | None = None
    settles: bool = False                                  # the client was reached: their callback is done
    placed_by: int | None = None      # an outbound call's operator: the lead is theirs if nobody else works it
    follow_up: Callback | None = None  # otherwise, a lead nobody works and no task waits for gets this task
    ended_at: datetime | None = None

    @property
    def changes_at(self) -> datetime:
        return self.ended_at or (self.callback.at if self.callback else datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Written:
    new_callback: str | None = None       # a callback task to route now
    owner_id: int | None = None
    settled: str | None = None            # a callback task to close now
    collapsed_into: str | None = None
    also_settled: tuple[str, ...] = ()    # callbacks on the client's other leads, done by reaching them


class CallRecords:
    """Call records that end together are written together (`write_records`), in the intake's group commit."""

    def __init__(self, ingestor: Ingestor) -> None:
        self._writes: GroupedWrites[CallRecord, Written] = GroupedWrites(ingestor, write_records, "call records")

    async def write(self, record: CallRecord) -> Written:
        """Returns once the record is committed (with whatever else was waiting)."""
        return await self._writes.write(record)


def write_records(session: Session, records: Sequence[CallRecord]) -> list[Written]:
    # The group's leads in one SELECT, so that each record's `session.get` and contact below read nothing more;
    # and which of their clients are owed a task that reaching them closes: most are owed none, and asking
    # each record's client (two SELECTs a record) was a fifth of the writer's work for the voice at 100 calls/s.
    leads = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_({r.lead_id for r in records})))}
    owed = _owed(session, {leads[r.lead_id].contact_id for r in records if r.settles and r.lead_id in leads})
    open_tasks = {lead: (task.id, task.kind) for lead, task in calls.open_tasks_of_leads(
        session, {r.lead_id for r in records}).items()}
    out, updates = [], {}
    for record in records:
        changes, written = dict(record.changes), Written()
        lead = leads.get(record.lead_id)
        existing = open_tasks.get(record.lead_id)
        if record.callback is not None and existing is not None:
            # One open task per lead: another missed call adds to the callback owed (or to the work under way).
            written = Written(collapsed_into=existing[0])
            changes.update(callback_task=existing[0], callback_collapsed=True)
        elif record.callback is not None:
            written = _add_callback(session, record, record.callback, open_tasks, owed)
            changes.update(callback_task=written.new_callback, callback_collapsed=False)
        elif record.settles and existing is not None and existing[1] == CALLBACK:
            written = Written(settled=existing[0])
            open_tasks.pop(record.lead_id)
        if record.settles and lead is not None and lead.contact_id in owed:
            # Reaching the client by phone does every call, message and e-mail task owed to them.
            closed = tasks.close_reached(session, [lead.contact_id], VOICE, record.changes_at)
            owed.discard(lead.contact_id)
            others = tuple(c.routing_task_id for c in closed if c.routing_task_id and c.routing_task_id != written.settled)
            written = replace(written, also_settled=others)
        if lead is not None and lead.deleted_at is None and lead.assignee_id is None \
                and record.lead_id not in open_tasks:
            # Every call ends with someone: the operator who placed it, else a task for whoever is free.
            placed = record.placed_by is not None and calls.take_call(
                session, record.lead_id, record.placed_by, record.call_id, rang_at=record.changes_at,
                at=record.changes_at, reassign=False, handled=False)
            if not placed and record.follow_up is not None:
                added = _add_callback(session, record, record.follow_up, open_tasks, owed)
                written = replace(written, new_callback=added.new_callback, owner_id=added.owner_id)
                changes.update(callback_task=added.new_callback, follow_up=True)
        updates[record.interaction_id] = changes
        for user_id, extension, at in record.pops:
            call_grants.record_pop(session, record.lead_id, user_id, record.call_id, extension, at)
        out.append(written)
    calls.update_calls(session, updates)
    calls.finish_call_tasks(session, {r.call_id for r in records}, max(r.changes_at for r in records),
                            {r.lead_id for r in records})
    return out


def _owed(session: Session, contact_ids: set[int]) -> set[int]:
    """The clients among these with an open task that reaching them closes (`tasks.close_reached`)."""
    if not contact_ids:
        return set()
    return set(session.scalars(select(Task.contact_id).distinct().where(
        Task.contact_id.in_(contact_ids), Task.state == tasks.OPEN, Task.kind.in_(tasks.DONE_BY_REACHING))))


def _add_callback(session: Session, record: CallRecord, callback: Callback,
                  open_tasks: dict[int, tuple[str, str]], owed: set[int]) -> Written:
    lead = session.get(Lead, record.lead_id)
    owner = lead.owner_id if lead is not None else None
    task_id = routing_log.task_id_for(record.lead_id, record.interaction_id)
    routing_log.add_task_row(session, task_id, lead_id=record.lead_id, kind=CALLBACK, channel=VOICE,
                             queue=callback.queue, priority=callback.priority, owner_id=owner, created_at=callback.at)
    tasks.add_callback(session, lead_id=record.lead_id, routing_task_id=task_id, assignee_id=owner, at=callback.at)
    open_tasks[record.lead_id] = (task_id, CALLBACK)
    if lead is not None:
        owed.add(lead.contact_id)      # the callback is a task a later call of the group reaching the client closes
    return Written(new_callback=task_id, owner_id=owner)
