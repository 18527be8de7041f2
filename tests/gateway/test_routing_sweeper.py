"""The sweeper finds what routing and the database disagree on, and repairs the side that is behind.

Each test makes one disagreement the way a crash or an outage leaves it (routing never told of a
committed task, an accept routing made that never reached the database, a lead closed while routing
was unreachable, Redis restarted empty), then runs passes by hand.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from crm_store.ingest import Ingestor
from crm_store.models import Lead, Reservation, RoutingTask
from crm_store.types import Claim, IngestRequest, RoutingHint, Role
from crm_store.users import NewUser, create_user
from gateway.hub import Hub
from gateway.mapping import task_of_row
from gateway.routing.driver import RoutingDriver
from gateway.routing.sweeper import DUTY, RoutingSweeper
from gateway.routing.wiring import open_routing
from routing.events import RoutingOutcome
from routing.types import Presence
from support.gateway_app import make_settings


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def shared_state(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    return {"redis": {"url": request.getfixturevalue("redis_url"), "prefix": f"sw{uuid.uuid4().hex}:"}}


@dataclass
class Rig:
    driver: RoutingDriver
    sweeper: RoutingSweeper
    ingestor: Ingestor
    sessions: Any
    olga: int

    async def commit_lead(self, phone: str) -> tuple[int, str]:
        """A lead and its routing task committed, and routing never told (the process died here)."""
        result = await self.ingestor.ingest(IngestRequest(
            "form", f"e{uuid.uuid4().hex}", datetime.now(UTC), (Claim("phone", phone, True, "high"),),
            routing=RoutingHint("default", "email")))
        assert result.task_id is not None
        return result.lead_id, result.task_id

    async def route(self, task_id: str) -> RoutingOutcome:
        """Routing told of the task, as intake does after the commit."""
        async with self.sessions() as session:
            row = await session.get(RoutingTask, task_id)
        return await self.driver.add_task(task_of_row(row))

    async def sweep_twice(self) -> list[str]:
        """A difference is repaired once two passes in a row have seen it."""
        first = await self.sweeper.sweep()
        return [str(r) for r in first + await self.sweeper.sweep()]

    async def offers(self, task_id: str) -> list[tuple[int, str]]:
        async with self.sessions() as session:
            rows = await session.execute(select(Reservation.agent_id, Reservation.outcome)
                                         .where(Reservation.task_id == task_id).order_by(Reservation.created_at))
            return [(agent, outcome) for agent, outcome in rows]


@pytest.fixture
async def rig(engine, sessions, database_url, shared_state) -> AsyncIterator[Rig]:  # type: ignore[no-untyped-def]
    # The background passes are kept out of the way: the test runs each pass itself.
    settings = make_settings(database_url, routing={"reconcile_seconds": 3600}, **shared_state)
    async with sessions() as session, session.begin():
        olga = (await create_user(session, NewUser("olga", "a password", Role.MANAGER), datetime.now(UTC))).id
    async with Ingestor(engine) as ingestor, open_routing(settings, sessions, Hub(), ingestor) as live:
        sweeper = RoutingSweeper(live.driver, sessions, time.time, lambda user_id: True, interval=3600)
        yield Rig(live.driver, sweeper, ingestor, sessions, olga)


async def test_a_committed_task_routing_never_heard_of_is_offered(rig):
    await rig.driver.set_presence(rig.olga, Presence.AVAILABLE, None)
    _, task_id = await rig.commit_lead("+79123456789")
    assert await rig.driver.engine.get_task(task_id) is None
    assert await rig.sweeper.sweep() == []            # maybe still on its way: not yet
    assert [str(r) for r in await rig.sweeper.sweep()] == [f"requeue {task_id} database says pending, routing lost it"]
    assert await rig.offers(task_id) == [(rig.olga, "pending")]
    assert await rig.sweep_twice() == []              # in step now: nothing more to do


async def test_an_accept_only_routing_made_reaches_the_database(rig):
    await rig.driver.set_presence(rig.olga, Presence.AVAILABLE, None)
    lead_id, task_id = await rig.commit_lead("+79123456789")
    outcome = await rig.route(task_id)
    [offer] = [e.offer for e in outcome.events if hasattr(e, "offer")]
    await rig.driver.engine.accept(offer.id, str(rig.olga))      # the process died before recording it
    assert await rig.sweep_twice() == [f"adopt_accept {task_id} routing assigned it to {rig.olga}"]
    async with rig.sessions() as session:
        lead = await session.get(Lead, lead_id)
        task = await session.get(RoutingTask, task_id)
    assert lead.assignee_id == rig.olga and task.state == "assigned"
    assert await rig.offers(task_id) == [(rig.olga, "accepted")]


async def test_a_lead_closed_while_routing_was_unreachable_frees_the_capacity_later(rig):
    await rig.driver.set_presence(rig.olga, Presence.AVAILABLE, None)
    lead_id, task_id = await rig.commit_lead("+79123456789")
    outcome = await rig.route(task_id)
    [offer] = [e.offer for e in outcome.events if hasattr(e, "offer")]
    await rig.driver.run(rig.driver.engine.accept(offer.id, str(rig.olga)))
    assert (await rig.driver.agent(rig.olga)).load == {"email": 1}
    async with rig.sessions() as session, session.begin():
        (await session.get(Lead, lead_id)).status = "won"     # saved; routing was not told
    assert await rig.sweep_twice() == [f"let_go {task_id} lead closed"]
    assert (await rig.driver.agent(rig.olga)).load.get("email", 0) == 0
    async with rig.sessions() as session:
        assert (await session.get(RoutingTask, task_id)).state == "completed"


@pytest.mark.redis
async def test_redis_restarted_empty_gets_agents_presence_and_waiting_work_back(engine, sessions, database_url,
                                                                               redis_url):
    prefix = f"sw{uuid.uuid4().hex}:"
    settings = make_settings(database_url, routing={"reconcile_seconds": 3600},
                             redis={"url": redis_url, "prefix": prefix})
    async with sessions() as session, session.begin():
        olga = (await create_user(session, NewUser("olga", "a password", Role.MANAGER), datetime.now(UTC))).id
    async with Ingestor(engine) as ingestor, open_routing(settings, sessions, Hub(), ingestor) as live:
        sweeper = RoutingSweeper(live.driver, sessions, time.time, lambda user_id: True, interval=3600)
        rig = Rig(live.driver, sweeper, ingestor, sessions, olga)
        _, waiting = await rig.commit_lead("+79123456789")
        await rig.route(waiting)           # nobody available: it waits in Redis
        await sweeper.remember_presence(olga, Presence.AVAILABLE, None)     # her screen, on this process
        client = Redis.from_url(redis_url, decode_responses=True)
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        await client.delete(*keys)                        # Redis came back without its data
        await client.aclose()
        first = [str(r) for r in await sweeper.sweep()]
        assert first == [f"agent_registered {olga}", f"presence_restored {olga} available"]
        assert [str(r) for r in await sweeper.sweep()] == [
            f"requeue {waiting} database says pending, routing lost it"]
        assert await rig.offers(waiting) == [(olga, "pending")]


async def test_a_long_comparison_stretches_the_wait_for_the_next_pass(rig):
    # A pass reads and compares every waiting task: with a big backlog it waits longer before the next,
    # so that passes take at most DUTY of the time; a short one keeps the configured interval.
    ticks = iter([100.0, 100.5, 200.0, 200.01])
    sweeper = RoutingSweeper(rig.driver, rig.sessions, time.time, lambda user_id: True, interval=2.0,
                             timer=lambda: next(ticks))
    assert sweeper.next_wait == 2.0
    await sweeper.sweep()
    assert sweeper.next_wait == pytest.approx(0.5 / DUTY)
    await sweeper.sweep()
    assert sweeper.next_wait == 2.0
