"""The policy orders of free agents are built when first asked for, then kept: both agree with a full sort."""
from __future__ import annotations

import random

from routing.backends.memory import MemoryBackend
from routing.engine import RoutingEngine
from routing.policies import INDEXED, free_capacity, rank_key
from routing.types import Agent, Policy, Presence, QueueConfig, Task

QUEUES = {policy.value: QueueConfig(policy=policy, offer_timeout=60) for policy in INDEXED}
CHANNELS = ("voice", "chat", "email")


async def full_sort(backend: MemoryBackend, channel: str, policy: Policy) -> list[str]:
    free = [a for a in await backend.get_agents([f"a{i}" for i in range(12)])
            if a is not None and a.presence is Presence.AVAILABLE and free_capacity(a, channel) > 0]
    return [key[-1] for key in sorted(rank_key(a, channel, policy) for a in free)]


async def test_an_order_first_asked_late_and_one_kept_from_the_start_both_match_a_full_sort() -> None:
    backend = MemoryBackend()
    engine = RoutingEngine(backend, QUEUES)
    rng = random.Random(5)
    for i in range(12):
        await engine.upsert_agent(Agent(f"a{i}", {}, capacity={"voice": 1, "chat": rng.randint(1, 3), "email": 2}))
        await engine.set_presence(f"a{i}", Presence.AVAILABLE)
    kept = await backend.candidates("chat", [], Policy.LONGEST_IDLE)     # this order is kept from here on
    assert [a.id for a in kept.free] == await full_sort(backend, "chat", Policy.LONGEST_IDLE)
    assigned: list[str] = []
    for step in range(300):
        roll = rng.random()
        if roll < 0.45:
            queue = rng.choice(list(QUEUES))
            out = await engine.add_task(Task(f"t{step}", rng.choice(CHANNELS), queue=queue))
            for offer in out.offers:
                await engine.accept(offer.id, offer.agent_id)
                assigned.append(offer.task_id)
        elif roll < 0.8 and assigned:
            await engine.complete(assigned.pop(rng.randrange(len(assigned))))
        else:
            await engine.set_presence(f"a{rng.randrange(12)}", rng.choice([Presence.AVAILABLE, Presence.BREAK]))
        if step in (150, 299):      # the other orders are asked for the first time (step 150) and kept after
            for channel in CHANNELS:
                for policy in INDEXED:
                    pool = await backend.candidates(channel, [], policy)
                    assert [a.id for a in pool.free] == await full_sort(backend, channel, policy), (step, channel)
    assert assigned, "the run assigned nothing: it tested no change of load"
