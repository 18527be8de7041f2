"""Invariants under random operation sequences, on both backends (hypothesis)."""
from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from routing.backends.memory import MemoryBackend
from routing.backends.redis import RedisBackend
from routing.engine import RoutingEngine
from routing.policies import INDEXED, choose, free_capacity, owner_blocks, rank_key, round_due
from routing.events import OfferCreated, RoutingError, TaskAssigned
from routing.types import Agent, Escalation, Fairness, Policy, Presence, QueueConfig, Task, TaskState

QUEUES = {
    "q": QueueConfig(aging_seconds=None, owner_wait_seconds=30, offer_timeout=20, escalation=(Escalation(31),)),
    "b": QueueConfig(policy=Policy.LEAST_LOADED, broadcast=2, aging_seconds=30, offer_timeout=15, wrap_up_seconds=10,
                     fairness=Fairness(2, 40), round_pause_seconds=0),
}
AGENTS = [
    Agent("a0", {"en": 2}, "A", {"voice": 1, "chat": 2, "email": 2}, {"chat": 1}),
    Agent("a1", {"en": 1, "fr": 1}, "B", {"voice": 1, "chat": 2}),
    Agent("a2", {"fr": 2}, "A", {"chat": 3, "email": 1}),
    Agent("a3", {}, None, {"voice": 1}),
]
PRESENCES = [Presence.AVAILABLE, Presence.AVAILABLE, Presence.BREAK, Presence.OFFLINE]

ops = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(["voice", "chat", "email"]), st.integers(0, 2),
              st.sampled_from([None, "en", "fr"]), st.sampled_from([None, None, "a0", "a1"]), st.sampled_from("qb"),
              st.sampled_from([None, None, "A"])),
    st.tuples(st.just("presence"), st.integers(0, 3), st.sampled_from(PRESENCES)),
    st.tuples(st.just("accept"), st.integers(0, 5)),
    st.tuples(st.just("decline"), st.integers(0, 5)),
    st.tuples(st.just("complete"), st.integers(0, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 5)),
    st.tuples(st.just("tick"), st.sampled_from([1, 5, 16, 31])),
)


class World:
    """An engine, a clock, and what the test saw."""

    def __init__(self, backend) -> None:
        self.now = 1_800_000_000.0
        self.engine = RoutingEngine(backend, QUEUES, lambda: self.now, missed_offers_limit=3)
        self.assigned: dict[str, str] = {}
        self.ids = itertools.count()

    async def apply(self, op) -> list:
        engine = self.engine
        snap = await engine.snapshot()
        offers = sorted(snap.offers, key=lambda o: o.id)
        working = [t for t in snap.tasks if t.state is TaskState.ASSIGNED]
        kind = op[0]
        try:
            if kind == "add":
                _, channel, prio, skill, owner, queue, team = op
                task = Task(f"t{next(self.ids)}", channel, prio, {skill: 1} if skill else {}, queue, team,
                            owner=owner, created=self.now)
                return list((await engine.add_task(task)).events)
            if kind == "presence":
                return list((await engine.set_presence(AGENTS[op[1]].id, op[2])).events)
            if kind in ("accept", "decline") and offers:
                offer = offers[op[1] % len(offers)]
                call = engine.accept if kind == "accept" else engine.decline
                return list((await call(offer.id, offer.agent_id)).events)
            if kind == "complete" and working:
                return list((await engine.complete(working[op[1] % len(working)].id)).events)
            if kind == "cancel" and snap.tasks:
                return list((await engine.cancel(snap.tasks[op[1] % len(snap.tasks)].id)).events)
            if kind == "tick":
                self.now += op[1]
                return list((await engine.expire_due()).events)
        except RoutingError as exc:  # pragma: no cover - every op above is valid by construction
            raise AssertionError(f"{op}: {exc!r}") from exc
        return []

    async def check(self, events: list) -> None:
        snap = await self.engine.snapshot()
        agents = {a.id: a for a in snap.agents}
        tasks = {t.id: t for t in snap.tasks}
        # Never over capacity, and the load is exactly the offers plus the tasks in hand.
        for a in snap.agents:
            held = [o.channel for o in snap.offers if o.agent_id == a.id]
            held += [t.task.channel for t in snap.tasks if t.agent_id == a.id and t.state is TaskState.ASSIGNED]
            for channel in a.agent.capacity:
                assert a.load.get(channel, 0) == held.count(channel), (a, held)
                assert a.load.get(channel, 0) <= a.agent.capacity[channel]
        # Never an offer held by an agent who is offline or on a break.
        for offer in snap.offers:
            assert agents[offer.agent_id].presence is Presence.AVAILABLE, offer
            assert tasks[offer.task_id].state is TaskState.RESERVED
        # Never one task assigned to two agents.
        for event in events:
            if isinstance(event, TaskAssigned):
                assert event.assignment.task_id not in self.assigned
                self.assigned[event.assignment.task_id] = event.assignment.agent_id
        for t in snap.tasks:
            if t.state in (TaskState.ASSIGNED, TaskState.WRAPPING):
                assert self.assigned[t.id] == t.agent_id
                assert not [o for o in snap.offers if o.task_id == t.id]
        # Never a task waiting while an eligible agent has room for it.
        for t in snap.tasks:
            if t.state is TaskState.PENDING:
                owner = agents.get(t.task.owner or "")
                decision = choose(t, QUEUES[t.task.queue], snap.agents, owner, snap.at)
                assert not decision.chosen, (t, decision)
                # Nor one every free eligible agent declined, once its next round is due (not stranded).
                if round_due(t, QUEUES[t.task.queue], snap.at):
                    again = choose(replace(t, declined=frozenset()), QUEUES[t.task.queue], snap.agents, owner, snap.at)
                    assert not again.chosen, (t, again)
        backend = self.engine.backend
        if isinstance(backend, MemoryBackend):  # the policy indexes agree with a full sort
            for channel in ("voice", "chat", "email"):
                free = [a for a in snap.agents if a.presence is Presence.AVAILABLE and free_capacity(a, channel) > 0]
                for policy in INDEXED:
                    pool = await backend.candidates(channel, [], policy)
                    assert [a.id for a in pool.free] == [k[-1] for k in sorted(rank_key(a, channel, policy)
                                                                                 for a in free)]
        made = [e.offer for e in events if isinstance(e, OfferCreated)]
        for offer in made:
            rec = tasks.get(offer.task_id)
            if rec is None:
                continue
            # FIFO within a priority among equally eligible tasks.
            for other in snap.tasks:
                same = (other.task.queue, other.task.channel, other.task.priority, dict(other.task.required_skills),
                        other.task.owner, other.task.team) == (rec.task.queue, rec.task.channel, rec.task.priority,
                                                               dict(rec.task.required_skills), None, None)
                if same and rec.task.owner is None and other.state is TaskState.PENDING and other.seq < rec.seq:
                    assert offer.agent_id in other.declined, (offer, other)
            # The owner first while eligible.
            if rec.task.owner and offer.agent_id != rec.task.owner:
                queue = QUEUES[rec.task.queue]
                assert not owner_blocks(rec, queue, agents.get(rec.task.owner), offer.created), (offer, rec)


async def scenario(backend, steps) -> None:
    world = World(backend)
    try:
        for agent, presence in zip(AGENTS, PRESENCES):
            await world.engine.upsert_agent(agent)
            await world.engine.set_presence(agent.id, presence)
        for op in steps:
            events = await world.apply(op)
            await world.check(events)
    finally:
        await backend.aclose()


@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(ops, min_size=1, max_size=40))
# Two offers timing out in one pass: the agent freed by the first took the newest task while an older one
# still looked offered (its timeout came next), until every due offer was closed before any was followed up.
@example(steps=[("add", "voice", 0, None, None, "q", None)] * 3 + [("tick", 31)])
def test_invariants_hold_after_every_operation(kind, steps, request):
    if kind == "memory":
        backend = MemoryBackend()
        asyncio.run(scenario(backend, steps))
        return
    url = request.getfixturevalue("redis_url")

    async def run() -> None:
        await scenario(RedisBackend.from_url(url, prefix=f"prop{uuid.uuid4().hex}:"), steps)
    asyncio.run(run())
