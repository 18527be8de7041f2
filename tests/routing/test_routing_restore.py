"""A task re-added from the database (a sweeper, a starting process) after routing finished it is refused:
the database may have been read just before another process's accept and close were stored."""
from __future__ import annotations

import pytest

from routing.events import RoutingError, TaskAssigned
from routing.types import Agent, Presence, Task


async def _finished(engine, clock) -> None:
    await engine.upsert_agent(Agent("a", capacity={"chat": 1}))
    await engine.set_presence("a", Presence.AVAILABLE)
    [offer] = [e.offer for e in (await engine.add_task(Task("lead:1:1", "chat"))).events if hasattr(e, "offer")]
    assert any(isinstance(e, TaskAssigned) for e in (await engine.accept(offer.id, "a")).events)
    await engine.complete("lead:1:1")
    assert await engine.get_task("lead:1:1") is None


async def test_a_restored_add_of_a_finished_task_is_refused(make_engine, clock):
    engine = make_engine()
    await _finished(engine, clock)
    with pytest.raises(RoutingError):
        await engine.add_task(Task("lead:1:1", "chat"), restored=True)
    assert await engine.get_task("lead:1:1") is None


async def test_an_ordinary_add_of_the_same_id_still_goes_through(make_engine, clock):
    # A call's task id comes back when the call is transferred back to the same phone.
    engine = make_engine()
    await _finished(engine, clock)
    await engine.add_task(Task("lead:1:1", "chat"))
    assert await engine.get_task("lead:1:1") is not None


async def test_a_restored_add_of_a_task_routing_never_had_goes_through(make_engine, clock):
    engine = make_engine()
    await engine.add_task(Task("lead:2:2", "chat"), restored=True)
    assert await engine.get_task("lead:2:2") is not None
