"""Routing's reads run statements built once: a card read, an outcome's writes and the close's task lookup
execute the same statement objects every time (each new one cost more to build and key than to run)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from crm_store import leads, routing_log
from crm_store.ingest import Ingestor
from crm_store.models import Lead
from crm_store.prepared import Prepared
from crm_store.routing_batch import ActivityChanged, OfferAccepted, OfferMade, RoutingChanges, cards_of
from crm_store.users import NewUser, create_user
from crm_store.types import LeadChanges, LeadStatus, Permissions, Role, RoutingHint, Viewer
from factories import T0, phone, request


@pytest.fixture
async def ingestor(engine):  # type: ignore[no-untyped-def]
    async with Ingestor(engine, clock=lambda: T0) as running:
        yield running


class Executed:
    """The statement objects a block of work executed, by identity, on any engine (on SQLite the
    Ingestor's writer has an engine of its own, and runs its prepared statements on the driver itself)."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.kept: list[Any] = []        # held, so that no id is reused by a later statement
        self._run = Prepared._run

    def _seen(self, conn: Any, clauseelement: Any, *args: Any) -> None:
        self.ids.append(id(clauseelement))
        self.kept.append(clauseelement)

    def __enter__(self) -> Executed:
        event.listen(Engine, "before_execute", self._seen)
        run = self._run

        def seen_prepared(prepared: Prepared, connection: Any, *args: Any, **kwargs: Any) -> Any:
            self._seen(connection, prepared.statement)
            return run(prepared, connection, *args, **kwargs)

        Prepared._run = seen_prepared       # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Prepared._run = self._run           # type: ignore[method-assign]
        event.remove(Engine, "before_execute", self._seen)


async def test_card_reads_run_the_same_statements_whatever_the_leads(ingestor, sessions):
    leads = [(await ingestor.ingest(request(phone(f"+7916111{n:04d}"), received_at=T0 + timedelta(seconds=n)))).lead_id
             for n in range(5)]
    reads = []
    async with sessions() as s:
        for chosen in ([leads[0]], leads[1:3], leads[3:]):
            with Executed() as executed:
                cards = await s.run_sync(lambda ss, chosen=chosen: cards_of(ss, chosen))
            assert sorted(cards) == sorted(chosen)
            reads.append(executed)
    # The card's four SELECTs (no users: nobody owns a new lead yet) and the glance's three: the leads come with
    # their clients and the clients' other leads (the glance's too), the count of their contacts the recent ones.
    assert len(reads[0].ids) == 7, reads[0].ids
    assert reads[0].ids == reads[1].ids == reads[2].ids     # the same objects, in order: nothing built per read


async def test_outcome_writes_and_the_close_lookup_run_the_same_statements(ingestor, sessions):
    async with sessions() as s, s.begin():
        agent = await create_user(s, NewUser("ann", "correct horse", Role.OPERATOR), T0)
    runs: list[Executed] = []
    for n in range(2):
        stored = await ingestor.ingest(request(phone(f"+7916222{n:04d}"), routing=RoutingHint("default", "web")))
        lead = stored.lead_id
        async with sessions() as s:
            task = await routing_log.open_task_for_lead(s, lead)
        assert task is not None and task.id == stored.task_id
        offer = f"offer{n}"
        with Executed() as executed:
            await ingestor.record_routing(RoutingChanges(T0, (
                OfferMade(offer, task.id, agent.id, T0, T0 + timedelta(minutes=1), {}),
                ActivityChanged(agent.id, "available", None, "routing")), (lead,)))
            await ingestor.record_routing(RoutingChanges(T0, (
                OfferAccepted(offer, task.id, agent.id), ActivityChanged(agent.id, "busy", None, "routing")), (lead,)))
            async with sessions() as s:
                assert (await routing_log.open_task_for_lead(s, lead)).id == task.id
        runs.append(executed)
        async with sessions() as s:
            assert (await s.get(Lead, lead)).assignee_id == agent.id
    first = set(runs[0].ids)
    assert len(first) >= 10, runs[0].ids      # offers, tasks, audit, activity, the assignment's reads, the cards...
    fresh = [statement for statement, n in zip(runs[1].kept, runs[1].ids) if n not in first]
    assert not fresh, [str(statement)[:60] for statement in fresh]


async def test_a_close_reads_its_lead_with_a_statement_built_once(ingestor, sessions):
    async with sessions() as s, s.begin():
        user = await create_user(s, NewUser("boss", "correct horse", Role.SUPERVISOR), T0)
    boss = Viewer(user_id=user.id, role=Role.SUPERVISOR, team_id=None)
    runs: list[Executed] = []
    for n in range(2):
        stored = await ingestor.ingest(request(phone(f"+7916333{n:04d}")))
        async with sessions() as s:
            with Executed() as executed:
                async with s.begin():
                    diff = await leads.update_lead(s, boss, stored.lead_id, LeadChanges(status=LeadStatus.WON),
                                                   Permissions(), T0 + timedelta(minutes=1))
            assert diff["status"] == ["new", "won"]
        runs.append(executed)
    fresh = [statement for statement, n in zip(runs[1].kept, runs[1].ids) if n not in set(runs[0].ids)]
    assert not fresh, [str(statement)[:60] for statement in fresh]     # Session.get built its SELECT every time
