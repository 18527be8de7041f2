"""Routing decision speed, in process and through Redis, against baselines measured in the same run.

    python bench/routing.py [--cycles 2000] [--waiting 10000] [--redis-agents 100]

1. in process (MemoryBackend), 100 and then 10,000 agents, all busy, 10,000 tasks waiting:
   a) agent freed -> offer: `complete()` of a task, which routes the best waiting task to the
      freed agent (the decision), then the agent accepts (not timed);
   b) new task -> offer: one agent has room, a task arrives (`add_task()` routes it at once);
   c) new task with every agent idle (no backlog): the policy scores all free agents.
   Prints decisions/s, p50 / p99, and the 10k/100 ratio.
2. Redis (RedisBackend on a redis-server started here), same scenarios (a) and (b): p50 / p99
   as a multiple of one plain PING round trip measured in the same run.
No asserts: the numbers go into the notes.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from redis.asyncio import Redis  # noqa: E402

from routing.backends.memory import MemoryBackend  # noqa: E402
from routing.backends.redis import RedisBackend  # noqa: E402
from routing.backends.redis_wire import ScriptWire  # noqa: E402
from routing.engine import RoutingEngine  # noqa: E402
from routing.types import Agent, Presence, QueueConfig, Task  # noqa: E402
from support.redis_server import running_redis  # noqa: E402

QUEUES = {"sales": QueueConfig(offer_timeout=3600), "support": QueueConfig(offer_timeout=3600)}


class Meter:
    """Times the measured calls and counts the Redis commands they send."""

    def __init__(self, client: Redis | None = None, *backends: RedisBackend) -> None:
        self.samples: list[float] = []
        self.cpu = 0.0      # this process's CPU inside the measured calls: load on a shared machine inflates
        self.commands = 0   # wall times, much less CPU time
        self._on = False
        # The client's commands, and the scripts' (their own connection: `RedisBackend.wire`).
        senders = ([client] if client is not None else []) + [backend.wire for backend in backends]
        for sender, name in ((s, "call" if isinstance(s, ScriptWire) else "execute_command") for s in senders):
            send = getattr(sender, name)

            async def counted(*args, _send=send, **kwargs):  # type: ignore[no-untyped-def]
                self.commands += self._on
                return await _send(*args, **kwargs)
            setattr(sender, name, counted)

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        self._on = True
        # The CPU clock read outside the wall clock's window: it is a system call, which a PING's window
        # (the floor) does not hold.
        cpu = time.process_time()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.samples.append(time.perf_counter() - start)
            self.cpu += time.process_time() - cpu
            self._on = False

    def per_call(self) -> float:
        return self.commands / max(1, len(self.samples))


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def setup(engine: RoutingEngine, agents: int, waiting: int) -> list[str]:
    """Agents all busy with one chat each, `waiting` tasks queued behind them."""
    rng = random.Random(7)
    ids = [f"a{i:05d}" for i in range(agents)]
    for agent_id in ids:
        await engine.upsert_agent(Agent(agent_id, {"en": rng.randint(1, 3)}, capacity={"chat": 1}))
        await engine.set_presence(agent_id, Presence.AVAILABLE)
    for i in range(agents + waiting):
        out = await engine.add_task(Task(f"t{i}", "chat", rng.randint(0, 3), {"en": 1},
                                         rng.choice(("sales", "support")), created=time.time()))
        for offer in out.offers:
            await engine.accept(offer.id, offer.agent_id)
    return ids


async def freed_cycle(engine: RoutingEngine, ids: list[str], cycles: int, meter: Meter) -> list[float]:
    """Time `complete()` (agent freed -> best waiting task offered); accept untimed."""
    rng = random.Random(11)
    for _ in range(cycles):
        agent_id = rng.choice(ids)
        [rec] = await engine.assignments_for(agent_id)
        with meter.measure():
            out = await engine.complete(rec.id)
        for offer in out.offers:
            await engine.accept(offer.id, offer.agent_id)
    return meter.samples


async def new_task_cycle(engine: RoutingEngine, ids: list[str], cycles: int, prefix: str,
                         meter: Meter) -> list[float]:
    """One agent has room: time `add_task()` routing the new task to it."""
    rng = random.Random(13)
    for i in range(cycles):
        agent_id = rng.choice(ids)
        await engine.set_presence(agent_id, Presence.TRAINING)
        [rec] = await engine.assignments_for(agent_id)
        await engine.complete(rec.id)
        await engine.backend.set_presence(agent_id, Presence.AVAILABLE, None, time.time())  # room, no routing
        task = Task(f"{prefix}{i}", "chat", 9, {"en": 1}, "sales", created=time.time())
        with meter.measure():
            out = await engine.add_task(task)
        for offer in out.offers:
            await engine.accept(offer.id, offer.agent_id)
    return meter.samples


async def idle_cycle(agents: int, cycles: int, engine: RoutingEngine | None = None,
                     meter: Meter | None = None) -> list[float]:
    """Every agent idle, no backlog: time `add_task()` (longest idle among all free agents)."""
    engine = engine or RoutingEngine(MemoryBackend(), QUEUES)
    meter = meter or Meter()
    for i in range(agents):
        await engine.upsert_agent(Agent(f"a{i:05d}", {"en": 2}, capacity={"chat": 1}))
        await engine.set_presence(f"a{i:05d}", Presence.AVAILABLE)
    for i in range(cycles):
        with meter.measure():
            out = await engine.add_task(Task(f"idle{i}", "chat", 0, {"en": 1}, "sales", created=time.time()))
        await engine.cancel(out.offers[0].task_id)
    return meter.samples


def script_time(before: dict, after: dict) -> tuple[float, float]:
    """Seconds Redis spent in scripts between two INFO commandstats, per script call; and `after`."""
    def total(stats: dict, key: str) -> tuple[float, float]:
        one = stats.get(f"cmdstat_{key}", {})
        return one.get("usec", 0) / 1e6, one.get("calls", 0)
    usec = sum(total(after, k)[0] - total(before, k)[0] for k in ("evalsha", "eval"))
    calls = sum(total(after, k)[1] - total(before, k)[1] for k in ("evalsha", "eval"))
    return usec / max(1, calls), after


def line(label: str, samples: list[float], unit: float = 1e-3, unit_name: str = "ms") -> str:
    total = sum(samples)
    return (f"  {label:<34} {len(samples) / total:>10,.0f} decisions/s   p50 {pct(samples, .5) / unit:7.3f} {unit_name}"
            f"   p99 {pct(samples, .99) / unit:7.3f} {unit_name}")


async def in_process(args: argparse.Namespace) -> None:
    print(f"in process (MemoryBackend), {args.waiting:,} tasks waiting, all agents busy:")
    results = {}
    for agents in (100, 10_000):
        engine = RoutingEngine(MemoryBackend(), QUEUES)
        t0 = time.perf_counter()
        ids = await setup(engine, agents, args.waiting)
        print(f" {agents:,} agents (setup {time.perf_counter() - t0:.1f} s)")
        freed = await freed_cycle(engine, ids, args.cycles, Meter())
        new = await new_task_cycle(engine, ids, args.cycles // 4, "n", Meter())
        idle = await idle_cycle(agents, min(args.cycles, 300))
        results[agents] = (freed, new, idle)
        print(line("agent freed -> offer", freed))
        print(line("new task -> offer (one agent free)", new))
        print(line("new task, every agent idle", idle))
    for i, label in enumerate(("agent freed", "new task, one free", "new task, all idle")):
        small, big = results[100][i], results[10_000][i]
        print(f"  ratio 10k/100 agents, {label:<20} p50 x{pct(big, .5) / pct(small, .5):.2f}"
              f"   p99 x{pct(big, .99) / pct(small, .99):.2f}   (log2 ratio would be x{13.3 / 6.6:.1f})")


async def ping_block(client: Redis, pings: list[float], count: int = 500) -> None:
    """`count` PING round trips through redis-py, appended to `pings` (seconds)."""
    for _ in range(count):
        start = time.perf_counter()
        await client.ping()
        pings.append(time.perf_counter() - start)


async def through_redis(args: argparse.Namespace) -> None:
    with running_redis() as url:
        client = Redis.from_url(url, decode_responses=True)
        backend = RedisBackend(client, "bench:")
        engine = RoutingEngine(backend, QUEUES)
        t0 = time.perf_counter()
        ids = await setup(engine, args.redis_agents, args.redis_waiting)
        print(f"Redis (RedisBackend), {args.redis_agents} agents busy, {args.redis_waiting:,} tasks waiting"
              f" (setup {time.perf_counter() - t0:.1f} s):")
        pings: list[float] = []
        await ping_block(client, pings)
        # Detail only (the floor stays the PING through redis-py above): the same PING on the scripts' own
        # connection, which the decisions use; its round trip is about half the floor's.
        wire_pings = []
        for _ in range(2000):
            start = time.perf_counter()
            await backend.wire.call("PING")
            wire_pings.append(time.perf_counter() - start)
        idle_backend = RedisBackend(client, "bench-idle:")
        freed_meter, new_meter = Meter(client, backend, idle_backend), Meter(client, backend, idle_backend)
        idle_meter = Meter(client, backend, idle_backend)
        scripts = {}
        stats = await client.info("commandstats")
        freed = await freed_cycle(engine, ids, args.cycles // 2, freed_meter)
        scripts["freed"], stats = script_time(stats, await client.info("commandstats"))
        await ping_block(client, pings)
        new = await new_task_cycle(engine, ids, args.cycles // 8, "r", new_meter)
        scripts["new"], stats = script_time(stats, await client.info("commandstats"))
        await ping_block(client, pings)
        idle_engine = RoutingEngine(idle_backend, QUEUES)
        idle = await idle_cycle(args.redis_agents, args.cycles // 4, idle_engine, idle_meter)
        scripts["idle"], stats = script_time(stats, await client.info("commandstats"))
        await ping_block(client, pings)
        # The floor is the p50 of PINGs taken before, between and after the decisions: the machine's pace moves
        # over a run (the p50 of one block before them swung 0.067-0.090 ms between runs with the same decisions).
        rtt = pct(pings, .5)
        print(f"  PING round trip                    p50 {rtt * 1e3:7.3f} ms   p99 {pct(pings, .99) * 1e3:7.3f} ms")
        print(f"  (detail) PING on the scripts' connection p50 {pct(wire_pings, .5) * 1e3:7.3f} ms"
              f"   p99 {pct(wire_pings, .99) * 1e3:7.3f} ms")
        print(line("agent freed -> offer", freed))
        print(line("new task -> offer (one agent free)", new))
        print(line("new task, every agent idle", idle))
        for label, meter, script in (("agent freed -> offer", freed_meter, scripts["freed"]),
                                     ("new task -> offer", new_meter, scripts["new"]),
                                     ("new task, every agent idle", idle_meter, scripts["idle"])):
            samples = meter.samples
            cpu = meter.cpu / max(1, len(samples))
            print(f"  {label:<34} {meter.per_call():.1f} Redis round trips per call;"
                  f" time p50 = {pct(samples, .5) / rtt:4.1f} x PING p50, p99 = {pct(samples, .99) / pct(pings, .99):4.1f}"
                  f" x PING p99; client CPU {cpu * 1e3:.3f} ms = {cpu / rtt:.1f} x PING;"
                  f" scripts {script * 1e3:.3f} ms per call (whole cycle, Redis' own clock)")
            short = label.split(" ->")[0].replace(" ", "_").replace(",", "")
            print(f"RESULT redis_{short} round_trips={meter.per_call():.1f} p50_pings={pct(samples, .5) / rtt:.1f}"
                  f" cpu_pings={cpu / rtt:.1f} target<=3")
        await idle_backend.wire.aclose()
        await backend.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--redis-agents", type=int, default=100)
    parser.add_argument("--redis-waiting", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="fewer cycles and a smaller backlog")
    args = parser.parse_args()
    if args.quick:
        args.cycles, args.waiting, args.redis_waiting = 400, 2000, 2000
    asyncio.run(in_process(args))
    asyncio.run(through_redis(args))


if __name__ == "__main__":
    main()
