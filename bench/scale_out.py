"""The whole routed loop on two processes with PostgreSQL and Redis, against one process on the same PostgreSQL.

    python bench/scale_out.py [--leads 2000] [--agents 50] [--concurrency 64] [--quick] [--profile DIR]

A PostgreSQL and a redis-server started here on loopback (tests/support launchers). Two runs on fresh
databases, in this order, in the same minutes:
1. floor: one `switchboard serve` on PostgreSQL, routing state in the process (no Redis);
2. scale-out: two `switchboard serve` on one PostgreSQL and one Redis (routing state and screen fan-out
   shared); the operators split across the two (agent i on server i % 2), the posts too (post i to
   server i % 2).
Each run is bench/loop.py's loop: 50 operators over websockets set themselves available, accept every
`offer.created` and close (PATCH status won) every lead assigned; every post a new client (phone and
e-mail, bench/ingest.py's data) at concurrency 64. Measured: server CPU per lead (user + system of the
server processes from /proc, both together in the scale-out), its ratio to the floor (target <= 1.5),
leads/s, and every lead assigned exactly once (on the screens and in the database's accepted offers).
`--profile DIR`: the servers run under cProfile; a summary per run is printed.
`--spy DIR`: py-spy samples each server (by thread, collapsed stacks) over the measured window only, not its
start-up and warm-up: DIR/<run>-server<n>.txt (collapsed stacks, as flamegraph.pl reads them).
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import aiohttp  # noqa: E402

from support.postgres_server import running_postgres  # noqa: E402
from support.processes import wait_ready  # noqa: E402
from support.redis_server import running_redis  # noqa: E402

loop = _paths.sibling("loop")      # the same operators, users and config as the loop bench
ingest = loop.ingest

WARM_UP = 25    # posts per server before the clock: connections, first pages, caches
# Short runs measure the two processes dearer (session 23, the same minutes' machine: 300 leads gave 1.35-1.87x,
# median 1.60, over six runs; 1,000 and 2,000 leads 1.07-1.72x, median 1.33, over nine): a cost a run pays once
# weighs more over 300 leads.
QUICK_LEADS = 1000
IDLE = 5.0      # seconds of the servers' idle CPU measured before the clock


def create_database(hostport: str, name: str) -> str:
    host, port = hostport.split(":")
    subprocess.run(["psql", "-h", host, "-p", port, "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                    "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True, timeout=60)
    return f"postgresql+asyncpg://postgres@{hostport}/{name}"


async def post_split(urls: list[str], posts: int, concurrency: int, first: int = 0) -> list[int]:
    """Post forms first..first+posts, post i to server i % len(urls), `concurrency` at a time: the lead ids."""
    counter = iter(range(first, first + posts))
    lead_ids: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async def worker() -> None:
            for i in counter:
                async with http.post(urls[i % len(urls)], data=ingest.form(i)) as response:
                    if response.status != 201:
                        raise RuntimeError(f"post {i}: {response.status} {await response.text()}")
                    lead_ids.append((await response.json())["lead_id"])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return lead_ids


async def accepted_per_lead(url: str) -> tuple[Counter[int], int]:
    """Accepted offers per lead, and leads won with an assignee, as the database has them."""
    from sqlalchemy import text

    from crm_store.session import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT t.lead_id, count(*) FROM reservations r JOIN routing_tasks t ON t.id = r.task_id "
                "WHERE r.outcome = 'accepted' GROUP BY t.lead_id"))).all()
            won = (await conn.execute(text(
                "SELECT count(*) FROM leads WHERE status = 'won' AND assignee_id IS NOT NULL"))).scalar_one()
    finally:
        await engine.dispose()
    return Counter({lead: n for lead, n in rows}), won


async def run(workdir: Path, db_url: str, redis_url: str | None, servers: int, leads: int, agents: int,
              concurrency: int, profile: Path | None, spy: Path | None = None) -> dict[str, object]:
    await loop.make_users(db_url, agents)
    config = workdir / "bench.toml"
    config.write_text(loop.CONFIG)
    env = {**os.environ, "SWITCHBOARD_DATABASE__URL": db_url, "COUNT_SQL_STATEMENTS": "1"}
    if redis_url is not None:
        env |= {"SWITCHBOARD_REDIS__URL": redis_url, "SWITCHBOARD_REDIS__PREFIX": f"bench{os.getpid()}:"}
    procs, ports = [], []
    for n in range(servers):
        port = ingest.free_port()
        command = [sys.executable, "-m", "gateway", "--config", str(config), "serve", "--port", str(port)]
        if profile is not None:
            command[1:1] = ["-m", "cProfile", "-o", str(profile / f"server{n}.prof")]
        procs.append(ingest.start(command, env, workdir))
        ports.append(port)
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for port, proc in zip(ports, procs):
            await wait_ready(port, proc, path="/readyz")
        connector = aiohttp.TCPConnector(limit=agents * 2 + 16)
        async with aiohttp.ClientSession(connector=connector) as http:
            screens_of = [loop.Operators(base, http) for base in bases]
            first = screens_of[0]
            for ops in screens_of:      # one tally for all the screens, wherever they are connected
                ops.assigned, ops.closed, ops.errors, ops.all_closed = (first.assigned, first.closed, first.errors,
                                                                         first.all_closed)
                ops.agents = agents
                ops.expected = leads + WARM_UP * servers
            ready, started = asyncio.Event(), []
            screens = [asyncio.create_task(screens_of[i % servers].run(f"agent{i}", ready, started))
                       for i in range(agents)]
            await asyncio.wait_for(ready.wait(), 120)
            await asyncio.sleep(1)          # presence set and registered everywhere
            warm = await post_split([f"{base}/forms/bench" for base in bases], WARM_UP * servers, 8,
                                    first=10_000_000)     # other clients than the measured posts
            for _ in range(600):            # bounded: the warm-up leads closed before the clock starts
                if len(first.closed) >= len(warm):
                    break
                await asyncio.sleep(0.1)
            # What the servers burn with nothing to do (timers, sweeper, roles word), measured over IDLE
            # seconds: on a loaded machine a run is slow and this weighs more per lead; subtracted in `net`.
            idle0, i0 = [ingest.cpu_seconds(p.pid) for p in procs], time.perf_counter()
            await asyncio.sleep(IDLE)
            idle_rate = sum(ingest.cpu_seconds(p.pid) - c for p, c in zip(procs, idle0)) / (time.perf_counter() - i0)
            calls0 = await redis_calls(redis_url)
            sql0 = [await loop.statements(base) for base in bases]
            writes0 = [await ingest.ingest_totals(port) for port in ports]
            spies = [] if spy is None else [start_spy(p.pid, spy / f"{workdir.name}-server{n}.txt")
                                            for n, p in enumerate(procs)]
            cpu0 = [ingest.cpu_seconds(p.pid) for p in procs]
            t0 = time.perf_counter()
            lead_ids = await post_split([f"{base}/forms/bench" for base in bases], leads, concurrency)
            try:
                await asyncio.wait_for(first.all_closed.wait(), max(180, leads / 2))
            except TimeoutError:
                pass
            elapsed = time.perf_counter() - t0
            cpu = [ingest.cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0)]
            stop_spies(spies)
            calls = await redis_calls(redis_url) - calls0
            sql1 = [await loop.statements(base) for base in bases]
            writes1 = [await ingest.ingest_totals(port) for port in ports]
            for task in screens:
                task.cancel()
            await asyncio.gather(*screens, return_exceptions=True)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    accepted, won = await accepted_per_lead(db_url)
    expected = first.expected
    problems = []
    if len(first.closed) < expected:
        problems.append(f"{expected - len(first.closed)} of {expected} leads not closed in time")
    if any(n != 1 for n in first.assigned.values()):
        problems.append(f"{sum(1 for n in first.assigned.values() if n != 1)} leads assigned more than once on screens")
    if any(n != 1 for n in accepted.values()) or not set(lead_ids) <= set(accepted):
        problems.append(f"database: {len(accepted)} leads with an accepted offer, "
                        f"{sum(1 for n in accepted.values() if n != 1)} with more than one")
    if first.errors:
        problems.append(f"{len(first.errors)} errors, first: {first.errors[0]}")
    if problems:
        problems.append(f"server log, last: {ingest.server_log(workdir)}")
    check = "; ".join(problems) or f"ok: {len(accepted)} leads, each accepted once, {won} won in the database"
    return {"rate": min(len(first.closed) - len(warm), leads) / elapsed,
            "cpu_ms": sum(cpu) / leads * 1e3, "net_ms": (sum(cpu) - idle_rate * elapsed) / leads * 1e3,
            "idle_ms_per_s": idle_rate * 1e3, "cpu_each": [c / leads * 1e3 for c in cpu], "check": check,
            "ok": not problems,
            "statements": sum(b[0] - a[0] for a, b in zip(sql0, sql1)) / leads,
            "per_step": {step: round(n / leads, 2) for step, n in
                         sum((b[1] - a[1] for a, b in zip(sql0, sql1)), Counter()).most_common() if n / leads >= 0.05},
            "commits": sum(b["commits"] - a["commits"] for a, b in zip(writes0, writes1)) / leads,
            "redis_per_lead": {name: n / leads for name, n in calls.most_common()}}


def start_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    # --nonblocking: the server is not paused to be read, so the CPU measured is its own
    return subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--rate", "200",
                             "--format", "raw", "--threads", "--nonblocking", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_spies(spies: list[subprocess.Popen[bytes]]) -> None:
    for spy in spies:
        spy.send_signal(signal.SIGINT)     # py-spy writes its samples on SIGINT
    for spy in spies:
        spy.wait(timeout=60)


async def redis_calls(url: str | None) -> Counter[str]:
    """Redis' own count of the commands it ran, by command (INFO commandstats): what the processes asked of it."""
    if url is None:
        return Counter()
    from redis.asyncio import Redis

    redis = Redis.from_url(url, decode_responses=True)
    try:
        stats = await redis.info("commandstats")
        net = await redis.info("stats")
    finally:
        await redis.aclose()
    # The bytes Redis sent and received: each pub/sub message is sent once per process subscribed to it.
    calls = {name.removeprefix("cmdstat_"): int(fields["calls"]) for name, fields in stats.items()}
    return Counter({**calls, "bytes_out": int(net["total_net_output_bytes"]),
                    "bytes_in": int(net["total_net_input_bytes"])})


def print_profile(path: Path, leads: int, title: str) -> None:
    files = sorted(path.glob("server*.prof"))
    if not files:
        return
    stats = pstats.Stats(*(str(f) for f in files))
    print(f"\n{title}: server profile (cProfile, {len(files)} process(es) together), by own time:")
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1,000 leads (not fewer: see QUICK_LEADS)")
    parser.add_argument("--profile", type=Path, help="run the servers under cProfile; profiles go to this folder")
    parser.add_argument("--spy", type=Path, help="py-spy each server over the measured window; samples to this folder")
    args = parser.parse_args()
    if args.quick:
        args.leads = QUICK_LEADS
    load0 = os.getloadavg()[0]
    if args.spy is not None:
        args.spy.mkdir(parents=True, exist_ok=True)
    with running_postgres() as pg, running_redis() as redis_url, \
            tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        results = {}
        for name, servers, redis in (("one", 1, None), ("two", 2, redis_url)):
            workdir = Path(tmp) / name
            workdir.mkdir()
            prof = None
            if args.profile is not None:
                prof = args.profile / name
                prof.mkdir(parents=True, exist_ok=True)
                for old in prof.glob("server*.prof"):
                    old.unlink()
            results[name] = await run(workdir, create_database(pg, f"bench_{name}"), redis, servers, args.leads,
                                      args.agents, args.concurrency, prof, args.spy)
    one, two = results["one"], results["two"]
    ratio = two["cpu_ms"] / one["cpu_ms"]
    print(f"{args.leads} leads (each a new client: phone + e-mail), {args.agents} operators over websockets, "
          f"concurrency {args.concurrency}, {os.cpu_count()} cores, PostgreSQL (fsync off), load {load0:.1f} -> "
          f"{os.getloadavg()[0]:.1f}")
    print(f"one process, routing in process (floor): {one['rate']:6.0f} leads/s   server CPU per lead "
          f"{one['cpu_ms']:.2f} ms   check: {one['check']}")
    each = " + ".join(f"{c:.2f}" for c in two["cpu_each"])
    print(f"two processes, one Redis:                {two['rate']:6.0f} leads/s   server CPU per lead "
          f"{two['cpu_ms']:.2f} ms ({each})   check: {two['check']}")
    print(f"CPU per lead, two processes / one: x{ratio:.2f}   (target <= 1.5)")
    net = two["net_ms"] / one["net_ms"]
    print(f"the same without the servers' idle CPU (one {one['idle_ms_per_s']:.0f}, two {two['idle_ms_per_s']:.0f} ms per "
          f"second, times the run's length): one {one['net_ms']:.2f} ms, two {two['net_ms']:.2f} ms per lead: x{net:.2f}")
    for name, r in (("one", one), ("two", two)):
        print(f"{name}: SQL statements per lead {r['statements']:.1f}, intake group commits per lead {r['commits']:.2f}; "
              f"by step: {r['per_step']}")
    # Redis counts the commands its scripts run as well (the zadd, sadd... of an EVALSHA).
    print("Redis commands per lead, two processes (INFO commandstats, scripts' own included): " + ", ".join(
        f"{name} {n:.1f}" for name, n in two["redis_per_lead"].items() if n >= 0.05 and not name.startswith("bytes")))
    print(f"Redis bytes per lead, two processes: out {two['redis_per_lead'].get('bytes_out', 0):,.0f} "
          f"(pub/sub deliveries and replies), in {two['redis_per_lead'].get('bytes_in', 0):,.0f}")
    print(f"RESULT scale_out cpu_ms_two={two['cpu_ms']:.2f} cpu_ms_one={one['cpu_ms']:.2f} ratio={ratio:.2f} "
          f"target<=1.5 leads_per_s_two={two['rate']:.0f} leads_per_s_one={one['rate']:.0f} "
          f"once={'yes' if one['ok'] and two['ok'] else 'NO'} net_ratio={net:.2f}")
    if args.profile is not None:
        for name in ("one", "two"):
            print_profile(args.profile / name, args.leads, name)


if __name__ == "__main__":
    asyncio.run(main())
