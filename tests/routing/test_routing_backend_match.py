"""A new task matched by the backend itself (Redis: inside ADD_TASK) decides as the engine would."""
from __future__ import annotations

import pytest

from routing.backends.redis import RedisBackend
from routing.events import OfferCreated
from routing.hours import WeeklyHours
from routing.types import Agent, Policy, Presence, QueueConfig, Skip, Task

QUEUES = {"sales": QueueConfig(), "other": QueueConfig(), "turns": QueueConfig(policy=Policy.ROUND_ROBIN)}


async def line_up(engine, clock, *agents: Agent) -> None:
    """Agents made available one second apart: the first is the longest idle."""
    for agent in agents:
        await engine.upsert_agent(agent)
        await engine.set_presence(agent.id, Presence.AVAILABLE)
        clock.advance(1)


def count_commands(backend) -> list[int]:
    """How many commands the backend sends from now on, through its client or its scripts' own connection
    (the bench's meter)."""
    sent = [0]
    for sender, name in ((backend.client, "execute_command"), (backend.wire, "call")):
        send = getattr(sender, name)

        async def counted(*args, _send=send, **kwargs):
            sent[0] += 1
            return await _send(*args, **kwargs)
        setattr(sender, name, counted)
    return sent


async def test_the_first_fitting_agent_in_order_gets_it_and_the_others_are_on_record(make_engine, clock):
    engine = make_engine(QUEUES)
    await line_up(engine, clock, Agent("a", {"en": 2}, capacity={"chat": 1}),
                  Agent("b", {"fr": 2}, capacity={"chat": 1}, queues=frozenset({"other"})),
                  Agent("c", {"fr": 1}, capacity={"chat": 1}), Agent("d", {"fr": 3}, capacity={"chat": 1}))
    out = await engine.add_task(Task("t1", "chat", required_skills={"fr": 1}, queue="sales", created=clock.now))
    [decision] = out.decisions
    assert [e.offer.agent_id for e in out.events if isinstance(e, OfferCreated)] == ["c"]
    assert decision.chosen == ("c",)
    assert [(s.agent_id, s.reason) for s in decision.skipped] == [("a", Skip.MISSING_SKILL), ("b", Skip.NOT_IN_QUEUE)]
    assert [o.agent_id for o in await engine.offers_for("c")] == ["c"]
    assert (await engine.get_task("t1")).state.value == "reserved"
    # Round robin: "c" just had an offer, so it goes last; "a" still lacks the skill, "d" is next.
    out = await engine.add_task(Task("t2", "chat", required_skills={"fr": 1}, queue="turns", created=clock.now))
    assert [e.offer.agent_id for e in out.events if isinstance(e, OfferCreated)] == ["d"]


async def test_nobody_fits_the_task_waits_with_every_free_agent_on_record(make_engine, clock):
    engine = make_engine(QUEUES)
    await line_up(engine, clock, Agent("a", {"en": 1}, capacity={"chat": 1}), Agent("b", capacity={"chat": 1}))
    out = await engine.add_task(Task("t1", "chat", required_skills={"de": 1}, queue="sales", created=clock.now))
    [decision] = out.decisions
    assert decision.chosen == () and not out.offers
    assert {s.agent_id for s in decision.skipped} == {"a", "b"}
    assert (await engine.get_task("t1")).state.value == "pending"


@pytest.mark.redis
async def test_redis_decides_a_new_task_in_one_command(redis_url, clock):
    from routing.engine import RoutingEngine

    backend = RedisBackend.from_url(redis_url, prefix="match1:")
    try:
        engine = RoutingEngine(backend, QUEUES, clock)
        await line_up(engine, clock, *(Agent(f"a{i}", capacity={"chat": 2}) for i in range(3)))
        await engine.add_task(Task("warm", "chat", queue="sales", created=clock.now))   # scripts loaded
        await engine.add_task(Task("warm2", "chat", queue="sales", owner="a2", created=clock.now))
        sent = count_commands(backend)
        out = await engine.add_task(Task("t1", "chat", queue="sales", created=clock.now))
        assert sent[0] == 1 and [o.agent_id for o in out.offers] == ["a0"]     # longest idle, room for one more
        # A pinned manager needs the engine's judgement (owner wait): candidates read, then the offer.
        sent[0] = 0
        out = await engine.add_task(Task("t2", "chat", queue="sales", owner="a2", created=clock.now))
        assert sent[0] == 2 and [o.agent_id for o in out.offers] == ["a2"]
    finally:
        await backend.aclose()


@pytest.mark.redis
async def test_an_agent_with_working_hours_hands_the_decision_back_to_the_engine(redis_url, clock):
    from routing.engine import RoutingEngine

    backend = RedisBackend.from_url(redis_url, prefix="match2:")
    try:
        engine = RoutingEngine(backend, QUEUES, clock)
        closed_now = WeeklyHours(((4, 9 * 60, 17 * 60),), "UTC")       # the clock is a Friday, 08:00 UTC
        await line_up(engine, clock, Agent("early", capacity={"chat": 1}, hours=closed_now),
                      Agent("late", capacity={"chat": 2}))
        # The same decision once before, so every script it runs is loaded (an email task nobody can take
        # loaded only some: run alone, the count below then held a NOSCRIPT and a SCRIPT LOAD).
        await engine.add_task(Task("warm", "chat", queue="sales", created=clock.now))
        sent = count_commands(backend)
        out = await engine.add_task(Task("t1", "chat", queue="sales", created=clock.now))
        [decision] = out.decisions
        assert [o.agent_id for o in out.offers] == ["late"] and sent[0] == 2
        assert [(s.agent_id, s.reason) for s in decision.skipped] == [("early", Skip.OUTSIDE_HOURS)]
    finally:
        await backend.aclose()
