"""The glance rows of many leads read at once (`card_rows.read_many`): each lead's as if read alone, in its own reach."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

from crm_store import card_rows, users
from crm_store.card_rows import SummaryRows
from crm_store.ingest import Ingestor
from crm_store.leads import visible
from crm_store.models import Company, ContactCompany, Lead, Task
from crm_store.routing_batch import ROUTING_VIEWER, cards_of
from crm_store.types import Role, Viewer
from factories import T0, phone, request


@pytest.fixture
async def ingestor(engine):  # type: ignore[no-untyped-def]
    async with Ingestor(engine, clock=lambda: T0) as running:
        yield running


def plain(rows: SummaryRows) -> dict[str, Any]:
    return {"companies": rows.companies, "deals": [d.id for d in rows.deals], "stages": sorted(rows.stages),
            "recent": [i.id for i in rows.recent], "tasks": [t.id for t in rows.tasks],
            "people": sorted(rows.people), "seen": rows.seen}


async def test_many_glances_at_once_are_each_the_one_read_alone_within_its_team(ingestor, sessions, engine):
    async with sessions() as s, s.begin():
        sam = await users.create_user(s, users.NewUser("sam", "correct horse", Role.MANAGER, team="sales"), T0)
        sue = await users.create_user(s, users.NewUser("sue", "correct horse", Role.MANAGER, team="support"), T0)
    # Client A: a support ticket (Sue's team) and, once it was won, a sales deal (Sam's team).
    ticket = await ingestor.ingest(request(phone("+79161110001"), channel="email", text="printer"))
    async with sessions() as s, s.begin():
        await s.execute(update(Lead).where(Lead.id == ticket.lead_id).values(
            status="won", assignee_id=sue.id, team_id=sue.team_id))
    deal = await ingestor.ingest(request(phone("+79161110001"), text="big plan", received_at=T0 + timedelta(minutes=1)))
    assert deal.lead_id != ticket.lead_id and deal.contact_id == ticket.contact_id
    # Client B calls for the first time; client C has called twice.
    first = await ingestor.ingest(request(phone("+79161110002"), channel="voice"))
    known = await ingestor.ingest(request(phone("+79161110003"), channel="voice"))
    again = await ingestor.ingest(request(phone("+79161110003"), channel="voice", received_at=T0 + timedelta(hours=1)))
    assert again.lead_id == known.lead_id
    async with sessions() as s, s.begin():
        await s.execute(update(Lead).where(Lead.id == ticket.lead_id).values(status="in_progress"))
        await s.execute(update(Lead).where(Lead.id == deal.lead_id).values(assignee_id=sam.id, team_id=sam.team_id))
        companies = [Company(name=name, team_id=team, created_at=T0, updated_at=T0)
                     for name, team in (("Ромашка", sam.team_id), ("Printers Inc", sue.team_id), ("Shared", None))]
        s.add_all(companies)
        await s.flush()
        s.add_all([ContactCompany(contact_id=deal.contact_id, company_id=c.id, created_at=T0) for c in companies])
        s.add_all([Task(lead_id=lead, contact_id=deal.contact_id, kind="call", due_at=T0 + timedelta(hours=h),
                        assignee_id=who, note=note, created_at=T0, updated_at=T0)
                   for lead, who, note, h in ((ticket.lead_id, sue.id, "printer", 1), (deal.lead_id, sam.id, "offer", 2),
                                              (None, sam.id, "about the client", 3))])
    popped = [deal.lead_id, ticket.lead_id, first.lead_id, known.lead_id]

    async with sessions() as s:
        leads = {lead.id: lead for lead in [await s.get(Lead, i) for i in popped]}
        alone = {i: await s.run_sync(lambda ss, i=i: plain(card_rows.read(ss, ROUTING_VIEWER, leads[i], visible)))
                 for i in popped}
        statements: list[str] = []
        count = lambda *args: statements.append(args[2])      # noqa: E731  (before_cursor_execute's statement)
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        together = await s.run_sync(lambda ss: {i: plain(rows) for i, rows in card_rows.read_many(
            ss, ROUTING_VIEWER, [leads[i] for i in popped], visible).items()})
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        admin = Viewer(user_id=sam.id, role=Role.ADMIN, team_id=None)
        everything = await s.run_sync(lambda ss: {i: plain(rows) for i, rows in card_rows.read_many(
            ss, admin, [leads[i] for i in popped], visible).items()})
        each = {i: await s.run_sync(lambda ss, i=i: plain(card_rows.read(ss, admin, leads[i], visible)))
                for i in popped}
        offered = await s.run_sync(lambda ss: {i: plain(card.summary_rows) for i, card in cards_of(ss, popped).items()})

    assert together == alone and everything == each and offered == alone
    assert len(statements) == 4, statements       # four SELECTs for all four leads
    # A pop shows what the popped lead's team may see: the deal nothing of support's ticket, and the other way.
    assert alone[deal.lead_id]["deals"] == [deal.lead_id]
    assert alone[deal.lead_id]["companies"] == ["Shared", "Ромашка"]
    assert len(alone[deal.lead_id]["tasks"]) == 2 and alone[deal.lead_id]["seen"] == 2
    assert alone[ticket.lead_id]["deals"] == [ticket.lead_id]
    assert alone[ticket.lead_id]["companies"] == ["Printers Inc", "Shared"]
    assert len(alone[ticket.lead_id]["tasks"]) == 1
    assert everything[deal.lead_id]["deals"] == [deal.lead_id, ticket.lead_id]
    assert everything[deal.lead_id]["companies"] == ["Printers Inc", "Shared", "Ромашка"]
    assert len(everything[deal.lead_id]["tasks"]) == 3
    # A first-time caller is seen once; a caller who called before, twice.
    assert (alone[first.lead_id]["seen"], alone[known.lead_id]["seen"]) == (1, 2)
    assert len(alone[known.lead_id]["recent"]) == 2 and alone[first.lead_id]["deals"] == [first.lead_id]
