"""A missed call's callback is a task of kind call; an answered call closes the client's call/message/e-mail tasks."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm_store import tasks
from crm_store.call_records import Callback, CallRecord, CallRecords
from crm_store.ingest import Ingestor
from crm_store.models import AuditEntry, Task
from factories import T0, phone, request
from test_call_records import a_call, ingestor  # noqa: F401  (the fixture)


async def test_a_callback_is_a_call_task_and_reaching_the_client_by_phone_closes_it(ingestor, sessions):  # noqa: F811
    missed_lead = await a_call(ingestor)
    records = CallRecords(ingestor)
    owed = await records.write(CallRecord("c1", missed_lead.lead_id, missed_lead.interaction_id, {"outcome": "missed"},
                                          callback=Callback("default", 1, T0)))
    async with sessions() as s, s.begin():
        [callback] = list(await s.scalars(select(Task)))
        assert (callback.kind, callback.origin, callback.state, callback.routing_task_id, callback.due_at) == (
            "call", "callback", "open", owed.new_callback, T0)
        s.add(Task(lead_id=missed_lead.lead_id, contact_id=callback.contact_id, kind="meeting", origin="manual",
                   state="open", due_at=T0 + timedelta(days=1), note="", created_at=T0, updated_at=T0))
    answered = await a_call(ingestor)
    assert answered.lead_id == missed_lead.lead_id
    written = await records.write(CallRecord("c2", answered.lead_id, answered.interaction_id, {"outcome": "answered"},
                                             settles=True, ended_at=T0 + timedelta(minutes=5)))
    assert written.settled == owed.new_callback
    async with sessions() as s:
        rows = {t.kind: (t.state, t.closed_by) for t in await s.scalars(select(Task))}
    assert rows == {"call": ("done", "reached:voice"), "meeting": ("open", None)}     # a meeting is not a call


async def test_claiming_a_reminder_twice_gives_it_once(engine, sessions):
    async with Ingestor(engine, clock=lambda: T0) as running:
        lead = await running.ingest(request(phone("+74951112233"), channel="voice"))
    async with sessions() as s, s.begin():
        row = await s.run_sync(lambda sync: tasks.add_system_task(
            sync, lead_id=lead.lead_id, kind="call", origin="forgotten", assignee_id=None, due_at=T0, note="", at=T0))
        await s.flush()
        task_id = row.id
    async with sessions() as s, s.begin():
        assert await tasks.claim_reminders(s, [task_id], T0 - timedelta(seconds=1)) == []   # not due yet
        assert await tasks.claim_reminders(s, [task_id], T0) == [task_id]
    async with sessions() as s, s.begin():
        assert await tasks.claim_reminders(s, [task_id], T0) == []


async def test_a_burst_is_claimed_once_and_audited_by_the_database(engine, sessions):
    async with Ingestor(engine, clock=lambda: T0) as running:
        lead = await running.ingest(request(phone("+74951112244"), channel="voice"))
    async with sessions() as s, s.begin():
        made = [await s.run_sync(lambda sync, n=n: tasks.add_system_task(
            sync, lead_id=lead.lead_id, kind="call", origin="forgotten", assignee_id=None,
            due_at=T0 + timedelta(minutes=n), note=f"№{n}", at=T0)) for n in range(3)]
        await s.flush()
        ids = [t.id for t in made]
    async with sessions() as s, s.begin():
        won = await tasks.claim_due(s, ids, T0 + timedelta(minutes=1))          # the third is not due yet
        assert [(r.task_id, r.note, r.lead_id) for r in won] == [(ids[0], "№0", lead.lead_id),
                                                                 (ids[1], "№1", lead.lead_id)]
        await tasks.audit_reminded(s, [r.task_id for r in won], "email", 'relay said "no"', T0)
    async with sessions() as s, s.begin():
        assert await tasks.claim_due(s, ids, T0 + timedelta(minutes=5)) != []     # only the third is left
        assert await tasks.claim_due(s, ids, T0 + timedelta(minutes=5)) == []
        entries = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "task.reminded")
                                       .order_by(AuditEntry.id)))
    assert [(e.lead_id, e.at, e.outcome, e.detail) for e in entries] == [
        (lead.lead_id, T0, "ok", {"task_id": task_id, "via": "email", "error": 'relay said "no"'})
        for task_id in ids[:2]]
