"""The end of each call, written in groups through the ingest writer: one transaction for all calls that ended meanwhile.

On SQLite there is one writer thread; were call records written from another connection, the two
would take turns at the write lock, sleeping in SQLite's busy handler (1 to 100 ms at a time) while
callers wait for their pops. The same transaction decides the callback a missed call owes (one open
task per lead: a second missed call collapses into it) and finds the callback an answered call settles.
"""
from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crm_store import audit, calls, routing_log
from crm_store.calls import CALLBACK, VOICE
from crm_store.ingest import Ingestor
from crm_store.models import Lead


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


@dataclass(frozen=True, slots=True)
class Written:
    new_callback: str | None = None       # a callback task to route now
    owner_id: int | None = None
    settled: str | None = None            # a callback task to close now
    collapsed_into: str | None = None


@dataclass
class CallRecords:
    ingestor: Ingestor
    _pending: list[tuple[CallRecord, asyncio.Future[Written]]] = field(default_factory=list)
    _worker: asyncio.Task[None] | None = None

    async def write(self, record: CallRecord) -> Written:
        """Returns once the record is committed (with whatever else was waiting)."""
        done: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        self._pending.append((record, done))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            records = [record for record, _ in batch]
            try:
                written = await self.ingestor.run_write(lambda session: write_records(session, records))
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, done), result in zip(batch, written, strict=True):
                if not done.done():
                    done.set_result(result)


def write_records(session: Session, records: list[CallRecord]) -> list[Written]:
    open_tasks = {lead: (task.id, task.kind) for lead, task in calls.open_tasks_of_leads(
        session, {r.lead_id for r in records if r.callback or r.settles}).items()}
    out, updates = [], {}
    for record in records:
        changes, written = dict(record.changes), Written()
        existing = open_tasks.get(record.lead_id)
        if record.callback is not None and existing is not None:
            # One open task per lead: another missed call adds to the callback owed (or to the work under way).
            written = Written(collapsed_into=existing[0])
            changes.update(callback_task=existing[0], callback_collapsed=True)
        elif record.callback is not None:
            lead = session.get(Lead, record.lead_id)
            owner = lead.owner_id if lead is not None else None
            task_id = routing_log.task_id_for(record.lead_id, record.interaction_id)
            routing_log.add_task_row(session, task_id, lead_id=record.lead_id, kind=CALLBACK, channel=VOICE,
                                     queue=record.callback.queue, priority=record.callback.priority, owner_id=owner,
                                     created_at=record.callback.at)
            open_tasks[record.lead_id] = (task_id, CALLBACK)
            written = Written(new_callback=task_id, owner_id=owner)
            changes.update(callback_task=task_id, callback_collapsed=False)
        elif record.settles and existing is not None and existing[1] == CALLBACK:
            written = Written(settled=existing[0])
            open_tasks.pop(record.lead_id)
        updates[record.interaction_id] = changes
        for user_id, extension, at in record.pops:
            audit.record(session, "lead.popped", at, user_id=user_id, lead_id=record.lead_id,
                         detail={"call_id": record.call_id, "extension": extension})
        out.append(written)
    calls.update_calls(session, updates)
    return out
