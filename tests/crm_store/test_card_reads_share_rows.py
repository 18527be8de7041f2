"""Routing's card read draws the client's other leads and the count of their contacts from the rows its glance
reads anyway: the card is the one a read of its own would give, with two SELECTs fewer."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from crm_store import leads as store_leads
from crm_store import routing_log
from crm_store.ingest import Ingestor
from crm_store.models import Interaction, Lead
from crm_store.routing_batch import ActivityChanged, OfferAccepted, OfferMade, RoutingChanges, cards_of
from crm_store.types import Role, RoutingHint, Viewer
from crm_store.users import NewUser, create_user
from factories import T0, phone, request
from gateway.api.serialize import card_json

ADMIN = Viewer(user_id=0, role=Role.ADMIN, team_id=None)     # sees every lead, as routing's read does


@pytest.fixture
async def ingestor(engine):  # type: ignore[no-untyped-def]
    async with Ingestor(engine, clock=lambda: T0) as running:
        yield running


async def test_a_client_with_more_leads_than_a_card_shows(ingestor, sessions, engine):
    first = await ingestor.ingest(request(phone("+79163330001"), text="first"))
    statuses = ("new", "won", "in_progress", "lost", "assigned", "closed")
    async with sessions() as s, s.begin():
        more = [Lead(contact_id=first.contact_id, status=statuses[n % len(statuses)], channel="form",
                     created_at=T0 + timedelta(minutes=n), updated_at=T0 + timedelta(minutes=n),
                     # activity out of id order: the glance reads newest activity first, the card newest id first
                     last_activity_at=T0 + timedelta(minutes=(n * 37) % 110),
                     deleted_at=T0 if n % 40 == 7 else None) for n in range(110)]
        s.add_all(more)
        await s.flush()
        s.add_all([Interaction(lead_id=lead.id, contact_id=first.contact_id, channel="system" if n % 3 else "form",
                               event_id=f"e{n}", direction="in", created_at=T0 + timedelta(minutes=n))
                   for n, lead in enumerate(more[:9])])
    lone = await ingestor.ingest(request(phone("+79163330002"), text="only once"))
    async with sessions() as s, s.begin():
        s.add(Interaction(lead_id=lone.lead_id, contact_id=lone.contact_id, channel="system", event_id="sys",
                          direction="in", created_at=T0 + timedelta(minutes=1)))
    live = [lead.id for lead in more if lead.deleted_at is None]
    chosen = [first.lead_id, live[0], live[50], live[-1], lone.lead_id]

    async with sessions() as s:
        statements: list[str] = []
        count = lambda *args: statements.append(args[2])      # noqa: E731  (before_cursor_execute's statement)
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        together = await s.run_sync(lambda ss: cards_of(ss, chosen))
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        alone = {i: await store_leads.card(s, ADMIN, i) for i in chosen}
        contacts = dict((await s.execute(select(Interaction.contact_id, func.count()).where(
            Interaction.channel != "system").group_by(Interaction.contact_id))).all())

    assert not any("row_number() OVER (PARTITION BY leads.contact_id" in sql for sql in statements), statements
    # The leads with their clients' other leads, identities, timelines, suggestions; the glance's three others.
    assert len(statements) == 7, statements
    for i in chosen:
        card, own = together[i], alone[i]
        assert [x.id for x in card.other_open_leads] == [x.id for x in own.other_open_leads], i
        assert [x.id for x in card.earlier_leads] == [x.id for x in own.earlier_leads], i
        assert card.summary_rows is not None
        assert card.summary_rows.seen == min(2, contacts.get(card.contact.id, 0)), i
        assert card_json(card) == card_json(own), i      # read as rows of the shown columns, shown the same
    shown = together[first.lead_id]
    assert len(shown.other_open_leads) + len(shown.earlier_leads) == 100      # of the client's 107 other live leads
    assert together[lone.lead_id].summary_rows.seen == 1      # a service note is no contact with the client


class Statements:
    """The SQL every engine ran meanwhile (on SQLite the Ingestor's writer has an engine of its own)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.sql.append(statement)

    def __enter__(self) -> Statements:
        sa_event.listen(Engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        sa_event.remove(Engine, "before_cursor_execute", self._seen)


async def test_an_accepts_card_takes_the_lead_its_client_and_agent_the_assignment_read(ingestor, sessions):
    async with sessions() as s, s.begin():
        agent = await create_user(s, NewUser("ann", "correct horse", Role.OPERATOR), T0)
    stored = await ingestor.ingest(request(phone("+79163330003"), routing=RoutingHint("default", "web")))
    async with sessions() as s:
        task = await routing_log.open_task_for_lead(s, stored.lead_id)
    offered = await ingestor.record_routing(RoutingChanges(T0, (
        OfferMade("o1", task.id, agent.id, T0, T0 + timedelta(minutes=1), {}),), (stored.lead_id,)))
    with Statements() as accept:
        assigned = await ingestor.record_routing(RoutingChanges(T0, (
            OfferAccepted("o1", task.id, agent.id), ActivityChanged(agent.id, "busy", None, "routing")),
            (stored.lead_id,)))
    reads = [sql for sql in accept.sql if sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(reads) == len(set(reads)), [r[-160:] for r in reads if reads.count(r) > 1]       # no row read twice: once to assign, once for the card
    # The card shows the lead as the accept left it, as a read of its own after the commit shows it.
    card = assigned[stored.lead_id]
    assert (card.lead.assignee_id, card.lead.status, card.contact.owner_id) == (agent.id, "assigned", agent.id)
    assert offered[stored.lead_id].lead.assignee_id is None
    async with sessions() as s:
        again = await store_leads.card(s, ADMIN, stored.lead_id)
        fresh = {i: (u.id, u.display_name) for i, u in again.users.items()}
    assert card_json(card) == card_json(again)
    assert {i: (u.id, u.display_name) for i, u in card.users.items()} == fresh
