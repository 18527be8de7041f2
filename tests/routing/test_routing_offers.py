"""Engine rules, each on both backends: offers and their answers, capacity, hours, explain, a task's end."""
from __future__ import annotations

import pytest

from routing.events import (
    InvalidState,
    NotFound,
    NotYourOffer,
    OfferCancelled,
    OfferNotPending,
    PresenceChanged,
    RoutingError,
    TaskAssigned,
)
from routing.hours import WeeklyHours
from routing.types import Agent, Fairness, OfferStatus, Presence, QueueConfig, Skip, Task, TaskState
from engine_steps import drain_order, online, task


async def test_broadcast_first_accept_wins(make_engine, clock):
    engine = make_engine({"default": QueueConfig(broadcast=3)})
    for agent_id in ("a", "b", "c", "d"):
        await online(engine, agent_id)
    out = await engine.add_task(task(clock, "t"))
    assert sorted(o.agent_id for o in out.offers) == ["a", "b", "c"]
    by_agent = {o.agent_id: o for o in out.offers}
    won = await engine.accept(by_agent["b"].id, "b")
    assert won.assignment.agent_id == "b"
    rescinded = [e.offer for e in won.events if isinstance(e, OfferCancelled)]
    assert sorted(o.agent_id for o in rescinded) == ["a", "c"]
    assert {o.status for o in rescinded} == {OfferStatus.RESCINDED}
    with pytest.raises(OfferNotPending):
        await engine.accept(by_agent["a"].id, "a")
    assert await engine.offers_for("a") == [] and await engine.offers_for("c") == []


async def test_accept_errors(make_engine, clock):
    engine = make_engine()
    await online(engine, "a")
    await online(engine, "b")
    [offer] = (await engine.add_task(task(clock, "t"))).offers
    with pytest.raises(NotYourOffer):
        await engine.accept(offer.id, "b")
    with pytest.raises(OfferNotPending):
        await engine.accept("no-such-offer", "a")


async def test_decline_goes_to_next_agent_not_back(make_engine, clock):
    engine = make_engine()
    await online(engine, "a")
    clock.advance(1)
    await online(engine, "b")
    [offer] = (await engine.add_task(task(clock, "t"))).offers
    out = await engine.decline(offer.id, "a")
    assert [o.agent_id for o in out.offers] == ["b"]
    out = await engine.decline(out.offers[0].id, "b")
    assert out.offers == []
    assert (await engine.explain("t")).reasons() == {"a": Skip.DECLINED, "b": Skip.DECLINED}


async def test_missed_offers_put_agent_on_break(make_engine, clock):
    engine = make_engine(missed_offers_limit=2)
    await online(engine, "a")
    await engine.add_task(task(clock, "t1"))
    clock.advance(20)
    out = await engine.expire_due()
    assert [o.status for o in out.cancelled] == [OfferStatus.TIMEOUT]
    await engine.add_task(task(clock, "t2"))
    [offer] = await engine.offers_for("a")
    out = await engine.decline(offer.id, "a")
    assert PresenceChanged("a", Presence.BREAK, "missed_offers") in out.events
    snap = await engine.snapshot()
    assert snap.agents[0].presence is Presence.BREAK and snap.agents[0].reason == "missed_offers"
    # An accept in between resets the count.
    await engine.set_presence("a", "available")
    assert (await engine.stats())["queue:default"].timed_out_today == 1


async def test_break_rescinds_pending_offer_and_reroutes(make_engine, clock):
    engine = make_engine()
    await online(engine, "a")
    clock.advance(1)
    await online(engine, "b")
    await engine.add_task(task(clock, "t"))
    out = await engine.set_presence("a", "training")
    assert [o.status for o in out.cancelled] == [OfferStatus.RESCINDED]
    assert [o.agent_id for o in out.offers] == ["b"]


async def test_voice_wrap_up_blocks_voice_only(make_engine, clock):
    engine = make_engine({"default": QueueConfig(wrap_up_seconds=30)})
    await online(engine, "a", capacity={"voice": 1, "chat": 2})
    [offer] = (await engine.add_task(task(clock, "call", "voice"))).offers
    await engine.accept(offer.id, "a")
    out = await engine.complete("call")
    assert out.events[0].state is TaskState.WRAPPING
    assert (await engine.add_task(task(clock, "call2", "voice"))).offers == []
    assert (await engine.explain("call2")).reasons() == {"a": Skip.WRAP_UP}
    assert len((await engine.add_task(task(clock, "chat", "chat"))).offers) == 1
    assert await engine.next_deadline() == clock.now + 20  # the chat offer; wrap ends at +30
    clock.advance(30)
    out = await engine.expire_due()
    assert [o.task_id for o in out.offers] == ["call2"]


@pytest.mark.parametrize(("on_call", "chats"), [(1, 1), (0, 0)])
async def test_live_call_shrinks_chat_capacity(make_engine, clock, on_call, chats):
    engine = make_engine()
    await online(engine, "a", capacity={"voice": 1, "chat": 4}, on_call_capacity={"chat": on_call})
    [offer] = (await engine.add_task(task(clock, "call", "voice"))).offers
    await engine.accept(offer.id, "a")
    offered = [len((await engine.add_task(task(clock, f"c{i}"))).offers) for i in range(3)]
    assert sum(offered) == chats
    out = await engine.complete("call")
    assert len(out.offers) == 3 - chats


async def test_business_hours(make_engine, clock):
    friday_9_to_17 = WeeklyHours(((4, 9 * 60, 17 * 60),), "UTC")
    engine = make_engine()
    await online(engine, "a", hours=friday_9_to_17)
    out = await engine.add_task(task(clock, "t"))
    assert out.decisions[0].reasons() == {"a": Skip.OUTSIDE_HOURS}
    assert await engine.next_deadline() == clock.now + 3600
    out = await engine.expire_due(clock.now + 3600)
    assert [o.agent_id for o in out.offers] == ["a"]


async def test_explain_lists_every_skip_reason(make_engine, clock):
    engine = make_engine()
    await engine.upsert_agent(Agent("off"))
    await online(engine, "lunch")
    await engine.set_presence("lunch", "lunch")
    await online(engine, "noskill", skills={"fr": 1})
    await online(engine, "novoice", capacity={"chat": 1})
    await online(engine, "busy", skills={"fr": 2}, capacity={"voice": 1})
    await engine.add_task(task(clock, "first", "voice"))
    [offer] = await engine.offers_for("busy")
    await engine.accept(offer.id, "busy")
    await engine.add_task(task(clock, "t", "voice", required_skills={"fr": 2}))
    decision = await engine.explain("t")
    assert decision.reasons() == {"off": Skip.OFFLINE, "lunch": Skip.ON_BREAK, "noskill": Skip.MISSING_SKILL,
                                  "novoice": Skip.NO_CHANNEL, "busy": Skip.AT_CAPACITY}
    assert {s.agent_id: s.detail for s in decision.skipped}["lunch"] == "lunch"


async def test_cancel_and_complete_states(make_engine, clock):
    engine = make_engine()
    await engine.add_task(task(clock, "waiting"))
    out = await engine.cancel("waiting")
    assert out.events[-1].state is TaskState.CANCELED
    await online(engine, "a")
    [offer] = (await engine.add_task(task(clock, "t"))).offers
    out = await engine.cancel("t")
    assert [o.status for o in out.cancelled] == [OfferStatus.RESCINDED]
    [offer] = (await engine.add_task(task(clock, "u"))).offers
    out = await engine.accept(offer.id, "a")
    assert isinstance(out.events[-1], TaskAssigned)
    assert [t.id for t in await engine.assignments_for("a")] == ["u"]
    await engine.complete("u")
    assert await engine.assignments_for("a") == []
    stats = (await engine.stats())["queue:default"]
    assert (stats.entered_today, stats.abandoned_today, stats.assigned_today) == (3, 2, 1)


async def test_backlog_drains_when_capacity_grows(make_engine, clock):
    engine = make_engine()
    await online(engine, "a", capacity={"chat": 1})
    for i in range(5):
        await engine.add_task(task(clock, f"t{i}"))
    out = await engine.upsert_agent(Agent("a", capacity={"chat": 4}))
    assert [o.task_id for o in out.offers] == ["t1", "t2", "t3"]


async def test_fairness_cap_lifts_on_its_own(make_engine, clock):
    engine = make_engine({"default": QueueConfig(fairness=Fairness(1, 100))})
    await online(engine, "a")
    [offer] = (await engine.add_task(task(clock, "t1"))).offers
    await engine.accept(offer.id, "a")
    await engine.complete("t1")
    assert (await engine.add_task(task(clock, "t2"))).offers == []
    assert await engine.next_deadline() == clock.now + 100.001
    clock.advance(100.001)
    out = await engine.expire_due()
    assert [(o.task_id, o.agent_id) for o in out.offers] == [("t2", "a")]


async def test_task_without_created_time_starts_now_and_unknown_names_fail(make_engine, clock):
    engine = make_engine()
    await engine.add_task(Task("t", "chat"))
    assert (await engine.get_task("t")).task.created == clock.now
    with pytest.raises(RoutingError):
        await engine.add_task(Task("t", "chat"))
    with pytest.raises(RoutingError):
        await engine.add_task(Task("u", "chat", queue="nope"))
    with pytest.raises(NotFound):
        await engine.set_presence("ghost", "available")
    with pytest.raises(InvalidState):
        await engine.complete("t")


async def test_add_tasks_routes_each_in_order_and_names_the_ones_held_already(make_engine, clock):
    # The new leads of one group commit in one call: the same offers and order as one add_task each, and a
    # task routing holds already (restored first) is named, not a failure of the others.
    engine = make_engine({"default": QueueConfig(aging_seconds=None)})
    await online(engine, "a", capacity={"chat": 1})
    await engine.add_task(task(clock, "t0"))
    exists: list[str] = []
    outcome = await engine.add_tasks([task(clock, "t0"), task(clock, "t1"), task(clock, "t2")], exists)
    assert exists == ["t0"]
    assert outcome.offers == []                     # "a" is busy with t0's offer
    assert await drain_order(engine, "a") == ["t0", "t1", "t2"]
