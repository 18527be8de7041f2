"""Offer rounds, on both backends: a task every eligible agent declined or missed is offered again."""
from __future__ import annotations

from routing.events import PresenceChanged
from routing.types import Agent, OfferStatus, Presence, QueueConfig, Skip, Task, TaskState


async def online(engine, agent_id: str, **kwargs) -> None:
    await engine.upsert_agent(Agent(agent_id, **kwargs))
    await engine.set_presence(agent_id, Presence.AVAILABLE)


async def test_declined_by_everyone_is_offered_again_after_the_pause(make_engine, clock):
    engine = make_engine()  # the default pause: 5 s
    await online(engine, "a")
    clock.advance(1)
    await online(engine, "b")
    [offer] = (await engine.add_task(Task("t", "chat", created=clock.now))).offers
    out = await engine.decline(offer.id, "a")
    assert [o.agent_id for o in out.offers] == ["b"]        # the others first: a is not asked again yet
    clock.advance(2)
    out = await engine.decline(out.offers[0].id, "b")
    assert out.offers == [] and (await engine.get_task("t")).round == 1
    clock.advance(4.9)                                        # the pause counts from the last decline
    assert (await engine.expire_due()).offers == []
    clock.advance(0.1)
    out = await engine.expire_due()
    # Round 2, in the policy's order again: a has been idle longest.
    assert [o.agent_id for o in out.offers] == ["a"]
    assert [d.round for d in out.decisions][-1] == 2
    rec = await engine.get_task("t")
    assert (rec.round, rec.declined, rec.state) == (2, frozenset(), TaskState.RESERVED)
    # In round 2 a's second no goes to b again, not back to a.
    out = await engine.decline(out.offers[0].id, "a")
    assert [o.agent_id for o in out.offers] == ["b"]
    assert (await engine.explain("t")).reasons() == {"a": Skip.DECLINED}


async def test_a_missed_offer_counts_and_a_lone_agent_is_asked_again(make_engine, clock):
    engine = make_engine(missed_offers_limit=3)  # 20 s offers, 5 s pause
    await online(engine, "a")
    await engine.add_task(Task("t", "chat", created=clock.now))
    clock.advance(20)
    out = await engine.expire_due()
    assert [o.status for o in out.cancelled] == [OfferStatus.TIMEOUT] and out.offers == []
    assert (await engine.get_task("t")).declined == {"a"}
    clock.advance(5)
    out = await engine.expire_due()
    assert [(o.task_id, o.agent_id) for o in out.offers] == [("t", "a")]
    await engine.accept(out.offers[0].id, "a")
    assert (await engine.get_task("t")).state is TaskState.ASSIGNED


async def test_no_pause_asks_again_at_once_until_the_agent_is_put_on_a_break(make_engine, clock):
    engine = make_engine({"default": QueueConfig(round_pause_seconds=0)}, missed_offers_limit=3)
    await online(engine, "a")
    [offer] = (await engine.add_task(Task("t", "chat", created=clock.now))).offers
    for round_ in (2, 3):
        out = await engine.decline(offer.id, "a")
        [offer] = out.offers
        assert offer.agent_id == "a" and (await engine.get_task("t")).round == round_
    # The third no in a row is the missed-offers break (app_queue's autopause): the task waits for someone.
    out = await engine.decline(offer.id, "a")
    assert PresenceChanged("a", Presence.BREAK, "missed_offers") in out.events and out.offers == []
    await online(engine, "b")
    assert [o.task_id for o in await engine.offers_for("b")] == ["t"]


async def test_an_agent_busy_when_the_round_came_due_gets_it_when_free(make_engine, clock):
    engine = make_engine()
    await online(engine, "a", capacity={"voice": 1})
    [offer] = (await engine.add_task(Task("t1", "voice", created=clock.now))).offers
    await engine.decline(offer.id, "a")
    clock.advance(1)
    [offer] = (await engine.add_task(Task("t2", "voice", created=clock.now))).offers
    await engine.accept(offer.id, "a")
    clock.advance(10)
    assert (await engine.expire_due()).offers == []              # a is on a call: nobody to ask
    out = await engine.complete("t2")
    assert [(o.task_id, o.agent_id) for o in out.offers] == [("t1", "a")]
    assert (await engine.get_task("t1")).round == 2


async def test_a_decliner_freed_before_the_pause_waits_for_it(make_engine, clock):
    engine = make_engine()
    await online(engine, "a", capacity={"voice": 1})
    [offer] = (await engine.add_task(Task("t1", "voice", created=clock.now))).offers
    await engine.decline(offer.id, "a")
    [offer] = (await engine.add_task(Task("t2", "voice", created=clock.now))).offers
    await engine.accept(offer.id, "a")
    clock.advance(1)
    assert (await engine.complete("t2")).offers == []           # 1 s after the no: not yet
    clock.advance(4)
    out = await engine.expire_due()
    assert [(o.task_id, o.agent_id) for o in out.offers] == [("t1", "a")]


async def test_an_agent_back_from_the_missed_offers_break_within_the_pause_is_asked_when_it_ends(make_engine, clock):
    engine = make_engine(missed_offers_limit=1)       # the first miss is a break (app_queue's autopause)
    await online(engine, "a")
    await engine.add_task(Task("t", "chat", created=clock.now))
    clock.advance(20)
    out = await engine.expire_due()
    assert PresenceChanged("a", Presence.BREAK, "missed_offers") in out.events and out.offers == []
    clock.advance(1)
    assert (await engine.set_presence("a", Presence.AVAILABLE)).offers == []     # 1 s after the miss: not yet
    clock.advance(4)
    out = await engine.expire_due()
    assert [(o.task_id, o.agent_id) for o in out.offers] == [("t", "a")]


async def test_a_freed_agent_gets_the_older_task_it_declined_once_its_round_is_due(make_engine, clock):
    # In queue order the declined task comes first when its round is due: not the newer one behind it (on
    # Redis, COMPLETE's own pick for the freed agent hands this decision back to the engine).
    engine = make_engine()
    await online(engine, "a", capacity={"voice": 1})
    [offer] = (await engine.add_task(Task("x", "voice", created=clock.now))).offers
    await engine.decline(offer.id, "a")
    [offer] = (await engine.add_task(Task("z", "voice", created=clock.now))).offers
    await engine.accept(offer.id, "a")
    clock.advance(1)
    await engine.add_task(Task("y", "voice", created=clock.now))
    clock.advance(5)
    await engine.expire_due()
    out = await engine.complete("z")
    assert [(o.task_id, o.agent_id) for o in out.offers] == [("x", "a")]
