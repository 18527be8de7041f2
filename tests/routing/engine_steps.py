"""Steps the engine's rule tests share: an agent online, a task created now, an agent's queue served to the end."""
from __future__ import annotations

from routing.types import Agent, Presence, Task


async def online(engine, agent_id: str, **kwargs) -> None:
    await engine.upsert_agent(Agent(agent_id, **kwargs))
    await engine.set_presence(agent_id, Presence.AVAILABLE)


def task(clock, task_id: str, channel: str = "chat", **kwargs) -> Task:
    return Task(task_id, channel, created=clock.now, **kwargs)


async def drain_order(engine, agent_id: str) -> list[str]:
    """Accept and complete whatever the agent is offered until nothing is left; the order served."""
    order = []
    for _ in range(50):
        offers = await engine.offers_for(agent_id)
        if not offers:
            return order
        await engine.accept(offers[0].id, agent_id)
        order.append(offers[0].task_id)
        await engine.complete(offers[0].task_id)
    raise AssertionError("did not drain")
