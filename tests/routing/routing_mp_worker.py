"""One of two processes sharing routing state in Redis (run by test_routing_multiprocess.py)."""
from __future__ import annotations

import asyncio
import json
import sys
import time

from routing.backends.redis import RedisBackend
from routing.engine import RoutingEngine
from routing.events import OfferCreated, RoutingError, TaskAssigned
from routing.types import Agent, Presence, QueueConfig, Task


async def completed(backend: RedisBackend, prefix: str) -> float:
    """Tasks completed so far, over every day's statistics: a run may cross midnight (UTC)."""
    done = 0.0
    async for day in backend.client.scan_iter(match=f"{prefix}st:*"):
        done += float(await backend.client.hget(day, "c:chat:completed") or 0)
    return done


SHARED_AGENTS = 4


def works(worker: int, agent_index: int) -> bool:
    return agent_index < SHARED_AGENTS or agent_index % 2 == worker


async def main(url: str, prefix: str, worker: int, tasks: int, agents: int, log_path: str, total: int,
               wait: float) -> int:
    backend = RedisBackend.from_url(url, prefix)
    engine = RoutingEngine(backend, {"default": QueueConfig(offer_timeout=120)})
    ids = [f"agent{i:02d}" for i in range(agents)]
    walk = list(enumerate(ids))[::1 if worker == 0 else -1]
    added = 0
    deadline = time.monotonic() + wait
    with open(log_path, "w") as log:
        def record(events) -> None:
            for event in events:
                if isinstance(event, TaskAssigned):
                    a = event.assignment
                    log.write(json.dumps({"kind": "assigned", "task": a.task_id, "agent": a.agent_id,
                                          "offer": a.offer_id, "worker": worker}) + "\n")
                elif isinstance(event, OfferCreated):
                    log.write(json.dumps({"kind": "offered", "offer": event.offer.id, "worker": worker}) + "\n")
        for agent_id in ids:
            record((await engine.upsert_agent(Agent(agent_id, capacity={"chat": 4}))).events)
            record((await engine.set_presence(agent_id, Presence.AVAILABLE)).events)
        while time.monotonic() < deadline:
            for _ in range(25):
                if added < tasks:
                    record((await engine.add_task(Task(f"w{worker}-{added}", "chat", created=time.time()))).events)
                    added += 1
            # The first few agents are worked by both processes, walked in opposite orders so the two collide on
            # the same offers; every other agent by one process only, so an offer the other process made to it can
            # only be accepted here, however the two are scheduled (one may be done with its own tasks before the
            # other starts).
            for index, agent_id in walk:
                if not works(worker, index):
                    continue
                for offer in await engine.offers_for(agent_id):
                    try:
                        record((await engine.accept(offer.id, agent_id)).events)
                    except RoutingError:
                        pass  # the other process accepted it first
                for rec in await engine.assignments_for(agent_id):
                    try:
                        record((await engine.complete(rec.id)).events)
                    except RoutingError:
                        pass  # completed by the other process
            done = await completed(backend, prefix)
            if added == tasks and done >= total:
                await backend.aclose()
                return 0
    await backend.aclose()
    return 1


if __name__ == "__main__":
    url, prefix, worker, tasks, agents, log_path, total, wait = sys.argv[1:]
    sys.exit(asyncio.run(main(url, prefix, int(worker), int(tasks), int(agents), log_path, int(total), float(wait))))
