"""A freed agent's next task offered by the backend itself (Redis: inside COMPLETE) decides as the engine would."""
from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.backends.memory import MemoryBackend
from routing.backends.redis import RedisBackend
from routing.engine import RoutingEngine
from routing.events import OfferCancelled, OfferCreated, TaskAssigned
from routing.types import Agent, Policy, Presence, QueueConfig, Task
from test_routing_backend_match import count_commands
from support.clocks import ManualClock

# Every queue matchable in the backend (ranked policy, one offer at a time, no fairness or gate): one
# with aging, one without, one round robin.
QUEUES = {"sales": QueueConfig(aging_seconds=30), "support": QueueConfig(aging_seconds=None),
          "turns": QueueConfig(policy=Policy.ROUND_ROBIN, aging_seconds=10)}
AGENTS = [Agent("a0", {"en": 2}, None, {"chat": 1, "email": 2}), Agent("a1", {"fr": 1}, None, {"chat": 2, "email": 1}),
          Agent("a2", {"en": 1, "fr": 2}, None, {"chat": 1}, queues=frozenset({"sales", "turns"})),
          Agent("a3", {}, None, {"email": 1, "chat": 1}, queues=frozenset({"support"}))]
NOW = 1_800_000_000.0
pytestmark = pytest.mark.redis




async def busy_with_backlog(engine: RoutingEngine, clock: ManualClock[float]) -> None:
    """a0 holds a chat; tasks wait in three queues with different priorities and ages."""
    await engine.upsert_agent(Agent("warm", {}, None, {"email": 1}))     # the scripts loaded (an owner: RESERVE)
    await engine.set_presence("warm", Presence.AVAILABLE)
    [offer] = (await engine.add_task(Task("w", "email", 0, {}, "sales", owner="warm", created=clock.now))).offers
    await engine.accept(offer.id, "warm")
    await engine.complete("w")
    await engine.upsert_agent(Agent("a0", {"en": 2}, None, {"chat": 1}))
    await engine.set_presence("a0", Presence.AVAILABLE)
    [offer] = (await engine.add_task(Task("held", "chat", 0, {}, "sales", created=clock.now))).offers
    await engine.accept(offer.id, "a0")
    for task_id, priority, queue, skills, age in (("old-low", 0, "sales", {}, 100), ("new-high", 2, "sales", {}, 0),
                                                  ("fr-only", 9, "support", {"fr": 1}, 0),
                                                  ("mid", 1, "support", {}, 50)):
        await engine.add_task(Task(task_id, "chat", priority, skills, queue, created=clock.now - age))


async def test_redis_offers_the_freed_agents_next_task_in_one_command(redis_url):
    clock = ManualClock(NOW)
    backend = RedisBackend.from_url(redis_url, prefix=f"freed{uuid.uuid4().hex}:")
    try:
        engine = RoutingEngine(backend, QUEUES, clock)
        await busy_with_backlog(engine, clock)
        sent = count_commands(backend)
        out = await engine.complete("held")
        # "old-low" waited 100 s in a queue aging 1 per 30 s: 0 + 3.3 beats "new-high" at 2 and "mid"
        # (no aging: 1); "fr-only" needs a skill a0 lacks.
        assert [(o.task_id, o.agent_id) for o in out.offers] == [("old-low", "a0")]
        assert sent[0] == 1
        [decision] = out.decisions
        assert decision.task_id == "old-low" and decision.chosen == ("a0",)
        assert [o.task_id for o in await engine.offers_for("a0")] == ["old-low"]
        assert (await engine.get_task("old-low")).state.value == "reserved"
    finally:
        await backend.aclose()


async def test_nothing_waiting_is_known_from_the_complete_alone(redis_url):
    clock = ManualClock(NOW)
    backend = RedisBackend.from_url(redis_url, prefix=f"freed{uuid.uuid4().hex}:")
    try:
        engine = RoutingEngine(backend, QUEUES, clock)
        await busy_with_backlog(engine, clock)
        for task_id in ("old-low", "new-high", "fr-only", "mid"):
            await engine.cancel(task_id)
        sent = count_commands(backend)
        out = await engine.complete("held")
        assert not out.offers and sent[0] == 1
    finally:
        await backend.aclose()


async def test_a_task_with_an_owner_at_the_head_goes_back_to_the_engine(redis_url):
    clock = ManualClock(NOW)
    backend = RedisBackend.from_url(redis_url, prefix=f"freed{uuid.uuid4().hex}:")
    try:
        engine = RoutingEngine(backend, QUEUES, clock)
        await busy_with_backlog(engine, clock)
        await engine.add_task(Task("pinned", "chat", 5, {}, "sales", owner="a0", created=clock.now))
        sent = count_commands(backend)
        out = await engine.complete("held")
        assert [(o.task_id, o.agent_id) for o in out.offers] == [("pinned", "a0")] and sent[0] == 2
    finally:
        await backend.aclose()



async def test_a_freed_agent_alone_free_takes_its_next_task_and_is_stored_as_the_engine_has_it(redis_url):
    """Nobody else free: COMPLETE offers the agent its next task without walking the rank, and stores the
    agent once, as it ends up (busy on chat again, still free on email, idle since now), as memory does."""
    views = []
    for backend in (MemoryBackend(), RedisBackend.from_url(redis_url, prefix=f"freed{uuid.uuid4().hex}:")):
        clock = ManualClock(NOW)
        try:
            engine = RoutingEngine(backend, QUEUES, clock)
            await engine.upsert_agent(Agent("a0", {"en": 2}, None, {"chat": 1, "email": 1}))
            await engine.set_presence("a0", Presence.AVAILABLE)
            [offer] = (await engine.add_task(Task("held", "chat", 0, {}, "sales", created=clock.now))).offers
            await engine.accept(offer.id, "a0")
            await engine.add_task(Task("next", "chat", 0, {}, "sales", created=clock.now))
            clock.now += 60
            out = await engine.complete("held")
            assert [(o.task_id, o.agent_id) for o in out.offers] == [("next", "a0")]
            [state] = await backend.get_agents(["a0"])
            chat = await backend.candidates("chat", [], Policy.LONGEST_IDLE)
            email = await backend.candidates("email", [], Policy.LONGEST_IDLE)
            views.append((state, [a.id for a in chat.free], [(a.id, a.last_busy) for a in email.free]))
        finally:
            await backend.aclose()
    memory, redis = views
    assert redis == memory and memory[1] == [] and memory[2] == [("a0", NOW + 60)]



async def test_another_free_agent_longer_idle_gets_the_freed_agents_next_task(redis_url):
    """Someone else free who fits, and a task waiting (a process that set a presence and died before routing
    it): the walk offers it in policy order, to the one idle longer, not to the freed agent, as memory does."""
    for backend in (MemoryBackend(), RedisBackend.from_url(redis_url, prefix=f"freed{uuid.uuid4().hex}:")):
        clock = ManualClock(NOW)
        try:
            engine = RoutingEngine(backend, QUEUES, clock)
            for agent_id in ("a0", "a1"):
                await engine.upsert_agent(Agent(agent_id, {"en": 2}, None, {"chat": 1}))
            await engine.set_presence("a0", Presence.AVAILABLE)
            [offer] = (await engine.add_task(Task("held", "chat", 0, {}, "sales", created=clock.now))).offers
            await engine.accept(offer.id, "a0")
            await engine.add_task(Task("next", "chat", 0, {}, "sales", created=clock.now))
            await backend.set_presence("a1", Presence.AVAILABLE, None, clock.now)     # free, nothing routed
            clock.now += 60
            out = await engine.complete("held")
            assert [(o.task_id, o.agent_id) for o in out.offers] == [("next", "a1")], type(backend).__name__
        finally:
            await backend.aclose()


# Mostly work most agents may take, accepted and completed often: a freed agent usually finds a backlog.
ops = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(["chat", "email"]), st.integers(0, 2),
              st.sampled_from([None, None, "en", "fr"]), st.sampled_from(sorted(QUEUES))),
    st.tuples(st.just("presence"), st.integers(0, 3), st.sampled_from([Presence.AVAILABLE, Presence.BREAK])),
    st.tuples(st.just("accept"), st.integers(0, 5)),
    st.tuples(st.just("accept"), st.integers(0, 5)),
    st.tuples(st.just("decline"), st.integers(0, 5)),
    st.tuples(st.just("complete"), st.integers(0, 5)),
    st.tuples(st.just("complete"), st.integers(0, 5)),
    st.tuples(st.just("tick"), st.sampled_from([1, 7, 30])),
)


def seen(events) -> list[tuple[str, str, str]]:
    out = []
    for e in events:
        if isinstance(e, (OfferCreated, OfferCancelled)):
            out.append((type(e).__name__, e.offer.task_id, e.offer.agent_id))
        elif isinstance(e, TaskAssigned):
            out.append(("assigned", e.assignment.task_id, e.assignment.agent_id))
    return out


async def step(engine: RoutingEngine, clock: ManualClock[float], op, n: int) -> tuple[list, list]:
    """One operation; offers and tasks are picked by content, not by their random ids."""
    snap = await engine.snapshot()
    offers = sorted(snap.offers, key=lambda o: (o.task_id, o.agent_id))
    working = sorted(t.id for t in snap.tasks if t.state.value == "assigned")
    kind = op[0]
    out = None
    if kind == "add":
        _, channel, priority, skill, queue = op
        out = await engine.add_task(Task(f"t{n}", channel, priority, {skill: 1} if skill else {}, queue,
                                         created=clock.now))
    elif kind == "presence":
        out = await engine.set_presence(AGENTS[op[1]].id, op[2])
    elif kind in ("accept", "decline") and offers:
        offer = offers[op[1] % len(offers)]
        out = await (engine.accept if kind == "accept" else engine.decline)(offer.id, offer.agent_id)
    elif kind == "complete" and working:
        out = await engine.complete(working[op[1] % len(working)])
    elif kind == "tick":
        clock.now += op[1]
        out = await engine.expire_due()
    if out is None:
        return [], []
    # Events as a set: the offers an agent's break rescinds come in each backend's own order (a Redis set).
    return sorted(seen(out.events)), [(d.task_id, d.chosen) for d in out.decisions]


async def lockstep(url: str, steps) -> int:
    """The same operations on the engine over memory and over Redis; every step's events and decisions
    alike. How many times COMPLETE offered the freed agent's next task itself."""
    clocks = ManualClock(NOW), ManualClock(NOW)
    backend = RedisBackend.from_url(url, prefix=f"freedp{uuid.uuid4().hex}:")
    engines = RoutingEngine(MemoryBackend(), QUEUES, clocks[0]), RoutingEngine(backend, QUEUES, clocks[1])
    matched = [0]
    complete = backend.complete

    async def counted(*args, **kwargs):
        released = await complete(*args, **kwargs)
        matched[0] += released.matched is not None
        return released
    backend.complete = counted
    try:
        for engine in engines:
            for agent in AGENTS:
                await engine.upsert_agent(agent)
                await engine.set_presence(agent.id, Presence.AVAILABLE)
        counters = itertools.count(), itertools.count()
        for n, op in enumerate(steps):
            results = []
            for engine, clock, counter in zip(engines, clocks, counters):
                # Offer ids in the same sequence on both: deadlines due at once are taken in id order.
                def ids(c: itertools.count[int] = counter) -> str:
                    return f"{next(c):032x}"
                with patch("routing.steps.new_offer_id", ids), patch("routing.engine.new_offer_id", ids):
                    results.append(await step(engine, clock, op, n))
            assert results[1] == results[0], (n, op)
    finally:
        await backend.aclose()
    return matched[0]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_long_random_day_decides_alike_on_both(redis_url, seed):
    rng = random.Random(seed)
    steps = []
    for _ in range(250):
        kind = rng.choice(["add", "add", "add", "accept", "accept", "complete", "complete", "decline", "presence", "tick"])
        steps.append({"add": lambda: ("add", rng.choice(["chat", "email"]), rng.randint(0, 2),
                                      rng.choice([None, None, None, "en", "fr"]), rng.choice(sorted(QUEUES))),
                      "presence": lambda: ("presence", rng.randint(0, 3),
                                           rng.choice([Presence.AVAILABLE, Presence.AVAILABLE, Presence.BREAK])),
                      "tick": lambda: ("tick", rng.choice([1, 7, 30]))}.get(kind, lambda: (kind, rng.randint(0, 5)))())
    assert await lockstep(redis_url, steps) >= 5     # the path under test was taken, often


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(ops, min_size=1, max_size=40))
def test_redis_and_the_engine_decide_every_freed_agent_alike(steps, request):
    url = request.getfixturevalue("redis_url")
    asyncio.run(lockstep(url, steps))
