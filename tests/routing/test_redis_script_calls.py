"""The Redis backend calls its scripts by EVALSHA straight, and still works after Redis lost them."""
from __future__ import annotations

import uuid

import pytest

from routing.backends.redis import RedisBackend
from routing.engine import RoutingEngine
from routing.events import OfferNotPending
from routing.types import Agent, Presence, QueueConfig, Task
from support.redis_server import running_redis_async
from test_routing_backend_match import count_commands

pytestmark = pytest.mark.redis
QUEUES = {"sales": QueueConfig(offer_timeout=20)}
NOW = 1_800_000_000.0


async def test_a_flushed_script_cache_is_refilled_and_the_decision_made():
    # A Redis of its own: flushing the shared one's scripts would add commands to other tests' counts.
    async with running_redis_async() as url:
        await flushed_then_decided(RedisBackend.from_url(url, f"sha{uuid.uuid4().hex}:"))


async def flushed_then_decided(backend: RedisBackend) -> None:
    try:
        engine = RoutingEngine(backend, QUEUES, lambda: NOW)
        await engine.upsert_agent(Agent("a", capacity={"chat": 2}))
        await engine.set_presence("a", Presence.AVAILABLE)
        await backend.client.script_flush()     # a Redis restarted without its scripts (or flushed by hand)
        [offer] = (await engine.add_task(Task("t1", "chat", queue="sales", created=NOW))).offers
        assert offer.agent_id == "a"
        sent = count_commands(backend)
        [offer] = (await engine.add_task(Task("t2", "chat", queue="sales", created=NOW))).offers
        assert offer.agent_id == "a" and sent == [1]        # loaded again: one EVALSHA per decision
        with pytest.raises(OfferNotPending):       # the scripts' errors still come out as routing's own
            await engine.accept("no-such-offer", "a")
    finally:
        await backend.aclose()
