"""Engine rules, each on both backends: who is served first, the owner, policies, caps, gates, escalation."""
from __future__ import annotations

import pytest

from routing.types import Agent, Escalation, Fairness, Policy, PriorityGate, QueueConfig, Skip, Task
from engine_steps import drain_order, online, task


async def test_priority_first_then_fifo(make_engine, clock):
    engine = make_engine({"default": QueueConfig(aging_seconds=None)})
    await engine.upsert_agent(Agent("a", capacity={"chat": 1}))
    for i, prio in enumerate([0, 2, 0, 2, 1]):
        await engine.add_task(task(clock, f"t{i}", priority=prio))
        clock.advance(1)
    await engine.set_presence("a", "available")
    assert await drain_order(engine, "a") == ["t1", "t3", "t4", "t0", "t2"]


async def test_aging_lets_old_low_priority_win(make_engine, clock):
    engine = make_engine({"default": QueueConfig(aging_seconds=10)})
    await engine.upsert_agent(Agent("a", capacity={"chat": 1}))
    await engine.add_task(task(clock, "old", priority=0))
    clock.advance(25)  # old: 0 + 2.5
    await engine.add_task(task(clock, "new", priority=2))  # new: 2 + 0
    await engine.set_presence("a", "available")
    assert await drain_order(engine, "a") == ["old", "new"]


async def test_new_task_goes_to_free_agent_at_once(make_engine, clock):
    engine = make_engine()
    await online(engine, "a")
    out = await engine.add_task(task(clock, "t"))
    assert [(o.task_id, o.agent_id) for o in out.offers] == [("t", "a")]
    assert out.decisions[0].chosen == ("a",)
    assert await engine.next_deadline() == out.offers[0].expires == clock.now + 20


async def test_owner_first_even_when_not_longest_idle(make_engine, clock):
    engine = make_engine()
    await online(engine, "idle-longest")
    clock.advance(10)
    await online(engine, "owner")
    out = await engine.add_task(task(clock, "t", owner="owner"))
    assert [o.agent_id for o in out.offers] == ["owner"]


async def test_task_waits_for_busy_owner_then_falls_back(make_engine, clock):
    engine = make_engine({"default": QueueConfig(owner_wait_seconds=30)})
    await online(engine, "owner", capacity={"voice": 1})
    await engine.add_task(task(clock, "call1", "voice"))
    [offer] = await engine.offers_for("owner")
    await engine.accept(offer.id, "owner")
    await online(engine, "other", capacity={"voice": 1})
    out = await engine.add_task(task(clock, "call2", "voice", owner="owner"))
    assert out.offers == []
    assert out.decisions[-1].reasons()["owner"] is Skip.AT_CAPACITY
    assert (await engine.explain("call2")).reasons() == {"other": Skip.NOT_OWNER_YET, "owner": Skip.AT_CAPACITY}
    assert await engine.next_deadline() == clock.now + 30  # the owner wait ends
    clock.advance(29)
    assert (await engine.expire_due()).offers == []
    clock.advance(1)
    out = await engine.expire_due()
    assert [(o.task_id, o.agent_id) for o in out.offers] == [("call2", "other")]


async def test_owner_freed_before_wait_gets_the_task(make_engine, clock):
    engine = make_engine({"default": QueueConfig(owner_wait_seconds=30)})
    await online(engine, "owner", capacity={"voice": 1})
    await online(engine, "other", capacity={"voice": 1})
    await engine.add_task(task(clock, "call1", "voice", owner="owner"))
    [offer] = await engine.offers_for("owner")
    await engine.accept(offer.id, "owner")
    await engine.add_task(task(clock, "call2", "voice", owner="owner"))
    clock.advance(10)
    out = await engine.complete("call1")
    assert [(o.task_id, o.agent_id) for o in out.offers] == [("call2", "owner")]


async def test_offline_owner_does_not_hold_the_task(make_engine, clock):
    engine = make_engine()
    await engine.upsert_agent(Agent("owner"))
    await online(engine, "other")
    out = await engine.add_task(task(clock, "t", owner="owner"))
    assert [o.agent_id for o in out.offers] == ["other"]


@pytest.mark.parametrize(("policy", "expected"), [
    (Policy.LONGEST_IDLE, "a"),  # a and b last worked at the same moment: tie by id; c came online later
    (Policy.LEAST_LOADED, "c"),  # a and b carry a chat each
    (Policy.HIGHEST_SKILL, "c"),
    (Policy.FIXED_ORDER, "b"),
    (Policy.ROUND_ROBIN, "c"),  # never offered anything yet
])
async def test_policies(make_engine, clock, policy, expected):
    queue = QueueConfig(policy=policy, fixed_order=("b", "c", "a"))
    engine = make_engine({"default": queue, "side": QueueConfig(policy=Policy.ROUND_ROBIN)})
    await online(engine, "a", skills={"en": 1})
    await online(engine, "b", skills={"en": 2})
    for name in ("s1", "s2"):
        [offer] = (await engine.add_task(Task(name, "chat", queue="side", created=clock.now))).offers
        await engine.accept(offer.id, offer.agent_id)
    clock.advance(1)
    await online(engine, "c", skills={"en": 5})
    out = await engine.add_task(task(clock, "t", required_skills={"en": 1}))
    assert [o.agent_id for o in out.offers] == [expected]
    assert out.decisions[-1].policy is policy
    assert out.decisions[-1].candidates[0].agent_id == expected


async def test_round_robin_rotates_and_ties_by_id(make_engine, clock):
    engine = make_engine({"default": QueueConfig(policy=Policy.ROUND_ROBIN)})
    for agent_id in ("c", "b", "a"):
        await online(engine, agent_id)
    got = []
    for i in range(6):
        out = await engine.add_task(task(clock, f"t{i}"))
        got.append(out.offers[0].agent_id)
        await engine.accept(out.offers[0].id, out.offers[0].agent_id)
        await engine.complete(f"t{i}")
    assert got == ["a", "b", "c", "a", "b", "c"]


async def test_longest_idle_tie_breaks_by_agent_id(make_engine, clock):
    engine = make_engine()
    await online(engine, "b")
    await online(engine, "a")
    out = await engine.add_task(task(clock, "t"))
    assert out.offers[0].agent_id == "a"
    assert [c.agent_id for c in (await engine.explain("t")).candidates] == ["a", "b"]


async def test_fairness_cap(make_engine, clock):
    engine = make_engine({"default": QueueConfig(fairness=Fairness(1, 100))})
    await online(engine, "a")
    clock.advance(1)
    await online(engine, "b")
    out = await engine.add_task(task(clock, "t1"))
    await engine.accept(out.offers[0].id, "a")
    await engine.complete("t1")
    await engine.set_presence("b", "break")
    out = await engine.add_task(task(clock, "t2"))
    assert out.offers == []
    assert out.decisions[0].reasons()["a"] is Skip.FAIRNESS_CAP
    out = await engine.set_presence("b", "available")
    assert [o.agent_id for o in out.offers] == ["b"]


async def test_priority_gate_needs_skill_level(make_engine, clock):
    engine = make_engine({"default": QueueConfig(priority_gate=PriorityGate(5, "senior", 3))})
    await online(engine, "junior", skills={"senior": 1})
    out = await engine.add_task(task(clock, "vip", priority=5))
    assert out.offers == [] and out.decisions[0].reasons() == {"junior": Skip.SKILL_GATE}
    out = await engine.add_task(task(clock, "normal", priority=4))
    assert [o.agent_id for o in out.offers] == ["junior"]
    out = await engine.upsert_agent(Agent("senior", skills={"senior": 3}))
    out = await engine.set_presence("senior", "available")
    assert [(o.task_id, o.agent_id) for o in out.offers] == [("vip", "senior")]


async def test_escalation_widens_to_other_teams(make_engine, clock):
    steps = (Escalation(60, frozenset({"B"})), Escalation(120))
    engine = make_engine({"default": QueueConfig(escalation=steps)})
    await online(engine, "c1", team="C")
    out = await engine.add_task(task(clock, "t", team="A"))
    assert out.decisions[0].reasons() == {"c1": Skip.NOT_IN_TEAM_YET}
    await online(engine, "b1", team="B")
    await engine.set_presence("b1", "lunch")
    clock.advance(60)
    assert (await engine.expire_due()).offers == []
    assert await engine.next_deadline() == clock.now + 60
    clock.advance(60)
    out = await engine.expire_due()
    assert [o.agent_id for o in out.offers] == ["c1"]
