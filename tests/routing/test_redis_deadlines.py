"""The Redis backend's next deadline: read once, then kept from what this process adds, read again after a pop."""
from __future__ import annotations

import uuid

import pytest

from routing.backends.redis import RedisBackend
from routing.engine import RoutingEngine
from routing.types import Agent, Presence, QueueConfig, Task
from test_routing_backend_match import count_commands
from support.clocks import ManualClock

pytestmark = pytest.mark.redis
QUEUES = {"sales": QueueConfig(offer_timeout=20)}
NOW = 1_800_000_000.0


async def test_own_deadlines_are_known_without_asking_and_others_after_a_pop(redis_url):
    prefix = f"due{uuid.uuid4().hex}:"
    here, there = RedisBackend.from_url(redis_url, prefix), RedisBackend.from_url(redis_url, prefix)
    clock = ManualClock(NOW)
    try:
        engine, other = RoutingEngine(here, QUEUES, clock), RoutingEngine(there, QUEUES, clock)
        for agent_id in ("a", "b"):
            await engine.upsert_agent(Agent(agent_id, capacity={"chat": 1}))
            await engine.set_presence(agent_id, Presence.AVAILABLE)
        assert await engine.next_deadline() is None
        sent = count_commands(here)
        [offer] = (await engine.add_task(Task("t1", "chat", queue="sales", created=clock.now))).offers
        calls = sent[0]
        assert await engine.next_deadline() == offer.expires == clock.now + 20 and sent[0] == calls
        # Accepted: the deadline is gone, the answer stays early (never late); a pop reads it again.
        await engine.accept(offer.id, offer.agent_id)
        assert await engine.next_deadline() == offer.expires
        # Another process's offer, earlier than anything here: seen after this process's next pop.
        clock.now -= 10
        [theirs] = (await other.add_task(Task("t2", "chat", queue="sales", created=clock.now))).offers
        await engine.expire_due(clock.now)
        assert await engine.next_deadline() == theirs.expires
    finally:
        await here.aclose()
        await there.aclose()
