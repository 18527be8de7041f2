"""Queue statistics on both backends, and weekly hours."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from routing.hours import WeeklyHours
from routing.types import Agent, Presence, QueueConfig, Task


async def test_queue_and_channel_stats(make_engine, clock):
    engine = make_engine({"sales": QueueConfig(service_level_seconds=10), "support": QueueConfig()})
    await engine.upsert_agent(Agent("a", capacity={"voice": 1, "chat": 2}, queues=frozenset({"sales"})))
    await engine.upsert_agent(Agent("b", capacity={"chat": 2}))
    await engine.upsert_agent(Agent("c", capacity={"chat": 2}))
    await engine.set_presence("a", Presence.AVAILABLE)
    await engine.set_presence("b", Presence.LUNCH, "lunch")
    # Voice t1 answered after 5 s (within SL); chat t2 accepted after 30 s (outside SL).
    await engine.add_task(Task("t1", "voice", 1, queue="sales", created=clock.now))
    await engine.add_task(Task("t2", "chat", 0, queue="sales", created=clock.now))
    clock.advance(5)
    offers = {o.task_id: o for o in await engine.offers_for("a")}
    await engine.accept(offers["t1"].id, "a")
    clock.advance(25)
    await engine.accept(offers["t2"].id, "a")
    # Waiting work: a has room for one more chat; the rest wait.
    for i, prio in enumerate([2, 0, 1, 1]):
        await engine.add_task(Task(f"w{i}", "chat", prio, queue="sales", created=clock.now))
        clock.advance(1)
    await engine.add_task(Task("gone", "chat", queue="support", created=clock.now))
    await engine.cancel("gone")
    offers = await engine.offers_for("a")
    await engine.decline(offers[0].id, "a")

    stats = await engine.stats()
    sales = stats["queue:sales"]
    assert (sales.entered_today, sales.assigned_today, sales.abandoned_today) == (6, 2, 0)
    assert sales.service_level_pct == 50.0
    assert sales.avg_time_to_accept == 17.5 and sales.max_time_to_accept == 30
    assert sales.rejected_today == 1 and sales.timed_out_today == 0
    assert sales.assigned == 2 and sales.reserved + sales.waiting == 4
    assert sales.eligible_agents == 3 and sales.available_agents == 1
    assert sales.agents_by_activity == {"on_call": 1, "lunch": 1, "offline": 1}
    assert sales.agents_by_reason == {"lunch": 1}
    support = stats["queue:support"]
    assert (support.entered_today, support.abandoned_today, support.eligible_agents) == (1, 1, 2)
    chat = stats["channel:chat"]
    assert chat.kind == "channel" and chat.entered_today == 6
    assert chat.occupancy_pct["chat"] == round(100 * 2 / 4, 1)  # a: 2 of 2 (one call does not shrink), b: 0 of 2
    voice = stats["channel:voice"]
    assert voice.assigned == 1 and voice.free_capacity == {"voice": 0}
    waiting = [t for t in (await engine.snapshot()).tasks if t.state.value == "pending"]
    assert sales.waiting == len(waiting)
    assert sales.longest_waiting_task == min(waiting, key=lambda t: t.task.created).id
    assert sum(sales.waiting_by_priority.values()) == sales.waiting
    json.dumps(sales.to_dict())


def test_weekly_hours_across_dst():
    berlin = WeeklyHours(((6, 9 * 60, 17 * 60),), "Europe/Berlin")  # Sundays 09:00-17:00 local
    saturday_noon = datetime(2027, 3, 27, 12, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    assert not berlin.is_open(saturday_noon)
    opens = berlin.next_change(saturday_noon)
    assert datetime.fromtimestamp(opens, ZoneInfo("Europe/Berlin")).hour == 9  # DST starts that night
    assert berlin.is_open(opens) and not berlin.is_open(opens - 1)
    closes = berlin.next_change(opens)
    assert closes - opens == 8 * 3600
    assert WeeklyHours(()).next_change(saturday_noon) is None



async def test_sla_at_risk_and_breached_count_work_not_yet_taken(make_engine, clock):
    engine = make_engine({"sales": QueueConfig(service_level_seconds=10)})
    start = clock.now
    await engine.add_task(Task("fresh", "chat", queue="sales", created=start))
    await engine.add_task(Task("risky", "chat", queue="sales", created=start - 8.5))        # 85% of 10 s
    await engine.add_task(Task("late", "chat", queue="sales", created=start - 11))
    await engine.add_task(Task("ticket", "email", queue="sales", created=start - 3600,       # its own deadline
                               sla_deadline=start + 1800))
    stats = await engine.stats()
    assert (stats["queue:sales"].sla_at_risk, stats["queue:sales"].sla_breached) == (1, 1)
    assert (stats["channel:chat"].sla_at_risk, stats["channel:chat"].sla_breached) == (1, 1)
    clock.advance(1700)                # the ticket is now past 80% of its time; the chats are all late
    stats = await engine.stats()
    assert (stats["queue:sales"].sla_at_risk, stats["queue:sales"].sla_breached) == (1, 3)
