"""Taking waiting work from a list, and re-prioritizing it, on both backends."""
from __future__ import annotations

import asyncio

import pytest

from routing.events import InvalidState, NotFound, OfferCancelled, TaskAssigned
from routing.types import Agent, Presence, QueueConfig, Task, TaskState


def task(clock, task_id: str, **kwargs) -> Task:  # type: ignore[no-untyped-def]
    return Task(task_id, "chat", created=clock.now, **kwargs)


async def test_two_people_taking_one_task_at_once_get_one_winner(make_engine, clock):
    engine = make_engine()
    for agent in ("a", "b"):
        await engine.upsert_agent(Agent(agent, capacity={"chat": 2}))   # offline: taking needs no presence
    await engine.add_task(task(clock, "t1"))
    results = await asyncio.gather(engine.take("t1", "a"), engine.take("t1", "b"), return_exceptions=True)
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0], InvalidState)
    assert "someone took it" in str(lost[0])
    [assigned] = [e for e in won[0].events if isinstance(e, TaskAssigned)]
    record = await engine.get_task("t1")
    assert record.state is TaskState.ASSIGNED and record.agent_id == assigned.assignment.agent_id
    [state] = await engine.backend.get_agents([record.agent_id])
    assert state.load["chat"] == 1


async def test_taking_an_offered_task_rescinds_the_offer_and_frees_that_agent(make_engine, clock):
    engine = make_engine()
    await engine.upsert_agent(Agent("a", capacity={"chat": 1}))
    await engine.set_presence("a", Presence.AVAILABLE)
    await engine.upsert_agent(Agent("b", capacity={"chat": 1}))
    await engine.add_task(task(clock, "t1"))
    [offer] = await engine.offers_for("a")
    outcome = await engine.take("t1", "b")
    assert [e.offer.id for e in outcome.events if isinstance(e, OfferCancelled)] == [offer.id]
    assert await engine.offers_for("a") == []
    [a] = await engine.backend.get_agents(["a"])
    assert a.load.get("chat", 0) == 0
    await engine.add_task(task(clock, "t2"))
    with pytest.raises(NotFound):
        await engine.take("t2", "nobody")
    await engine.complete("t1")
    assert await engine.get_task("t1") is None


async def test_a_priority_change_moves_the_waiting_task(make_engine, clock):
    engine = make_engine({"default": QueueConfig(aging_seconds=None)})
    await engine.upsert_agent(Agent("a", capacity={"chat": 1}))
    for name in ("first", "second", "third"):
        await engine.add_task(task(clock, name))
        clock.advance(1)
    await engine.set_priority("third", 5)
    await engine.set_priority("first", -1)
    assert (await engine.get_task("third")).task.priority == 5
    await engine.set_presence("a", Presence.AVAILABLE)
    served = []
    for _ in range(3):
        [offer] = await engine.offers_for("a")
        served.append(offer.task_id)
        await engine.accept(offer.id, "a")
        await engine.complete(offer.task_id)
    assert served == ["third", "second", "first"]
