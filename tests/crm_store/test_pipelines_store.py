"""Funnels in the store: old statuses migrate onto stages, every status change moves the stage and is kept."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from alembic import command
from sqlalchemy import Engine, event, select, text

from crm_store import funnel, pipelines
from crm_store.ingest import Ingestor
from crm_store.migrate import alembic_config
from crm_store.models import Lead, Stage, StageChange
from crm_store.stage_sync import ACTOR
from crm_store.types import Role, Viewer
from tests.crm_store.factories import T0, phone, request

STATUSES = ("new", "assigned", "in_progress", "won", "lost", "closed")


async def test_existing_leads_migrate_onto_the_sales_stages(database_url, engine, sessions):
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0004_tasks")
    async with engine.begin() as c:
        await c.execute(text("INSERT INTO contacts (display_name, created_at, updated_at) VALUES ('Old', :t, :t)"),
                        {"t": T0})
        contact = await c.scalar(text("SELECT max(id) FROM contacts"))
        for status in STATUSES:
            closed = None if status in ("new", "assigned", "in_progress") else T0 + timedelta(days=1)
            await c.execute(text(
                "INSERT INTO leads (contact_id, status, priority, channel, source, attributes, notes, created_at, "
                "updated_at, last_activity_at, closed_at, search_text) VALUES (:c, :s, 0, 'form', '{}', '{}', '', "
                ":t, :t, :t, :closed, '')"), {"c": contact, "s": status, "t": T0, "closed": closed})
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
    async with sessions() as session:
        stages = {s.id: s for s in await session.scalars(select(Stage))}
        found = list(await session.scalars(select(Lead).order_by(Lead.id)))
        changes = list(await session.scalars(select(StageChange)))
    assert [(stages[x.stage_id].status, stages[x.stage_id].kind) for x in found] == [
        ("new", "open"), ("assigned", "open"), ("in_progress", "open"), ("won", "won"), ("lost", "lost"),
        ("closed", "closed")]
    assert len(changes) == 11    # each entered New when it came, five moved on since
    assert found[3].stage_entered_at == T0 + timedelta(days=1)


async def test_status_changes_anywhere_move_the_stage_and_are_kept(engine, sessions):
    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        result = await ingestor.ingest(request(phone("+79120000001")))
    async with sessions() as session, session.begin():
        sales = (await pipelines.funnels(session))[0]
        by_status = {s.status: s for s in sales.stages}
        lead = await session.get(Lead, result.lead_id)
        assert (lead.pipeline_id, lead.stage_id) == (sales.pipeline.id, by_status["new"].id)
        # An admin's stage without a fixed status keeps its leads while the status moves within "open".
        extra = await pipelines.add_stage(session, sales.pipeline.id,
                                          pipelines.StageSpec(name="Demo", kind="open"), T0)
        session.info[ACTOR] = None
        lead.status, lead.updated_at = "in_progress", T0 + timedelta(hours=2)       # as a reply does
    async with sessions() as session, session.begin():
        lead = await session.get(Lead, result.lead_id)
        assert lead.stage_id == by_status["in_progress"].id
        lead.stage_id, lead.updated_at = extra.id, T0 + timedelta(hours=5)
    async with sessions() as session, session.begin():
        lead = await session.get(Lead, result.lead_id)
        lead.status, lead.updated_at = "assigned", T0 + timedelta(hours=6)
    async with sessions() as session, session.begin():
        lead = await session.get(Lead, result.lead_id)
        assert lead.stage_id == extra.id
        lead.status, lead.outcome, lead.updated_at = "won", "won", T0 + timedelta(hours=30)
    async with sessions() as session:
        lead = await session.get(Lead, result.lead_id)
        assert lead.stage_id == by_status["won"].id and lead.stage_entered_at == T0 + timedelta(hours=30)
        history = [(c.to_stage_id, c.at) for c in await session.scalars(
            select(StageChange).where(StageChange.lead_id == lead.id).order_by(StageChange.id))]
        assert history == [(by_status["new"].id, T0), (by_status["in_progress"].id, T0 + timedelta(hours=2)),
                           (extra.id, T0 + timedelta(hours=5)), (by_status["won"].id, T0 + timedelta(hours=30))]
        report = await funnel.report(session, Viewer(user_id=1, role=Role.SUPERVISOR, team_id=None), sales.pipeline.id, T0 - timedelta(days=1), T0 + timedelta(days=1))
    rows = {s["name"]: s for s in report["stages"]}
    assert report["leads"] == 1 and report["conversion"] == 1.0
    assert (rows["New"]["median_hours"], rows["Demo"]["median_hours"], rows["Demo"]["entered"]) == (2.0, 25.0, 1)
    assert rows["Assigned"]["entered"] == 0 and rows["In progress"]["to_next"] == 1.0   # on to Won


async def test_the_entry_stage_is_read_once_and_a_new_funnel_is_entered_at_once(engine, sessions):
    sent: list[str] = []

    def count(_conn, _cursor, statement, *_):  # type: ignore[no-untyped-def]
        sent.append(statement)

    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        first = await ingestor.ingest(request(phone("+79120000001"), pipeline="wholesale"))   # no such funnel yet
        event.listen(Engine, "before_cursor_execute", count)
        try:
            await ingestor.ingest(request(phone("+79120000002"), pipeline="wholesale"))
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        # A group commit reads no pipeline of its own: the entry stage is kept like the stages it is one of.
        assert sent and not [s for s in sent if "FROM pipelines" in s]
        async with sessions() as session, session.begin():
            made = await pipelines.create_pipeline(session, "wholesale", "Wholesale", [], T0)
        # ... and the commit that made a funnel empties what was kept: the next lead enters the new funnel.
        second = await ingestor.ingest(request(phone("+79120000003"), pipeline="wholesale"))
    async with sessions() as session:
        found = {lead.id: lead.pipeline_id for lead in await session.scalars(select(Lead))}
    assert found[first.lead_id] != made.pipeline.id and found[second.lead_id] == made.pipeline.id


async def test_the_stage_changes_of_one_flush_are_one_insert(engine, sessions):
    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        made = [await ingestor.ingest(request(phone(f"+7912000001{n}"))) for n in range(3)]
    sent: list[str] = []

    def count(_conn, _cursor, statement, *_):  # type: ignore[no-untyped-def]
        sent.append(statement)

    async with sessions() as session, session.begin():
        sales = (await pipelines.funnels(session))[0]
        by_status = {s.status: s for s in sales.stages}
        leads = [await session.get(Lead, result.lead_id) for result in made]
        session.info[ACTOR] = None
        for hours, lead in enumerate(leads, start=1):     # as the voice's grouped answers do
            lead.status, lead.updated_at = "assigned", T0 + timedelta(hours=hours)
        event.listen(Engine, "before_cursor_execute", count)
        try:
            await session.flush()
        finally:
            event.remove(Engine, "before_cursor_execute", count)
    assert len([s for s in sent if "INSERT INTO stage_changes" in s]) == 1
    async with sessions() as session:
        changes = [(c.lead_id, c.from_stage_id, c.to_stage_id, c.at, c.user_id) for c in await session.scalars(
            select(StageChange).where(StageChange.from_stage_id.is_not(None)).order_by(StageChange.lead_id))]
        entered = [(lead.stage_id, lead.stage_entered_at) for lead in await session.scalars(
            select(Lead).where(Lead.id.in_([r.lead_id for r in made])).order_by(Lead.id))]
    assigned, new = by_status["assigned"].id, by_status["new"].id
    assert changes == [(r.lead_id, new, assigned, T0 + timedelta(hours=n), None) for n, r in enumerate(made, start=1)]
    assert entered == [(assigned, T0 + timedelta(hours=n)) for n in range(1, 4)]

