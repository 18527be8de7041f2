"""Form posts over HTTP into a fresh SQLite store, against floors measured in the same run.

    python bench/ingest.py [--posts 6000] [--concurrency 64] [--repeat 3] [--quick] [--profile FILE]

The data is what users send: every post is a new client, with a distinct phone (typed the way
people type it, "+7 912 345-67-89") and a distinct e-mail address, a name, a Cyrillic message
and utm fields, urlencoded like a browser form.

1. end to end: `switchboard serve` (its own process, fresh SQLite file, every commit fsynced before its answer) takes
   the posts from this process at a fixed concurrency; every 201 means committed. Afterwards the
   database is read back: every 201 is one stored lead (no loss, no double).
   The server's CPU time (user + system, from /proc) is divided by the posts: CPU per lead.
2. no-op HTTP: an aiohttp server in its own process that reads the form and answers 201 without
   storing anything, under the same client, the same posts and the same concurrency: the floor.
3. raw insert: the same rows written with SQLAlchemy Core bulk inserts in one transaction.
`--profile FILE` runs the server under cProfile and prints the top of the profile.
Prints leads/s and the ratios. No asserts: the numbers go into bench/README.md.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import aiohttp  # noqa: E402

from support.processes import wait_ready  # noqa: E402


NOOP_SERVER = """
import sys
from aiohttp import web
async def accept(request):
    await request.post()
    return web.json_response({"lead_id": 1}, status=201)
app = web.Application()
app.router.add_post("/forms/{key}", accept)
app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

CONFIG = """
log_level = "WARNING"
[forms.bench]
rate_per_minute = 100000000
burst = 100000000
"""

DOMAINS = ("gmail.com", "mail.ru", "yandex.ru", "outlook.com", "bk.ru", "company-example.ru")
FIRST = ("Ivan", "Olga", "Sergey", "Anna", "Dmitry", "Maria", "Алексей", "Екатерина")
LAST = ("Petrov", "Ivanova", "Smirnov", "Kuznetsova", "Попов", "Соколова")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def form(i: int) -> dict[str, str]:
    """A new client: distinct phone and e-mail for every `i` below ten million."""
    first, last = FIRST[i % len(FIRST)], LAST[i // len(FIRST) % len(LAST)]
    return {"name": f"{first} {last}", "phone": f"+7 912 {i // 10_000 % 1000:03d}-{i // 100 % 100:02d}-{i % 100:02d}",
            "email": f"{first.lower()}.{last.lower()}.{i}@{DOMAINS[i % len(DOMAINS)]}",
            "message": "Здравствуйте! Перезвоните мне, пожалуйста, по поводу тарифа.",
            "utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": f"autumn-{i % 7}",
            "submission_id": f"bench-{i}"}


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def post_all(url: str, posts: int, concurrency: int, first: int = 0,
                   on_start: Callable[[], Awaitable[None]] | None = None) -> tuple[float, list[int], list[float]]:
    """Post forms `first`..`first+posts` with `concurrency` workers: (posts/s, lead ids, latencies)."""
    counter = iter(range(first, first + posts))
    lead_ids: list[int] = []
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def worker() -> None:
            for i in counter:
                sent = time.perf_counter()
                async with http.post(url, data=form(i)) as response:
                    if response.status != 201:
                        raise RuntimeError(f"post {i}: {response.status} {await response.text()}")
                    lead_ids.append((await response.json())["lead_id"])
                latencies.append(time.perf_counter() - sent)

        for i in range(min(50, posts)):   # warm-up outside the clock: connections, first pages
            async with http.post(url, data=form(10_000_000 - 1 - i)) as response:
                await response.read()
        if on_start is not None:
            await on_start()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return posts / (time.perf_counter() - start), lead_ids, latencies


async def ingest_totals(port: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    return {"commits": metric(text, "switchboard_ingest_commits_total"),
            "write": metric(text, "switchboard_ingest_write_seconds_total"),
            "writer_cpu": metric(text, "switchboard_ingest_writer_cpu_seconds_total", 0.0),
            "wal_syncs": metric(text, "switchboard_ingest_wal_syncs_total", 0.0)}


def metric(text: str, name: str, missing: float | None = None) -> float:
    """One unlabelled sample of a Prometheus text page (`missing` if the server has none by that name)."""
    found = (float(line.split()[1]) for line in text.splitlines() if line.startswith(name + " "))
    return next(found) if missing is None else next(found, missing)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    # Its log goes to a file: a pipe nobody reads fills up and stalls the server mid-run.
    with open(cwd / "server.log", "ab") as log:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log)


def server_log(cwd: Path, lines: int = 5) -> str:
    """The last lines the server logged (its warnings and errors)."""
    path = cwd / "server.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def check_stored(db: Path, lead_ids: list[int], posts: int) -> str:
    """Every 201 is one stored lead with its interaction, its phone and e-mail; none twice."""
    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute(
            "SELECT lead_id FROM interactions WHERE channel = 'form'")}
        doubles = conn.execute("SELECT count(*) - count(DISTINCT event_id) FROM interactions").fetchone()[0]
        identities = conn.execute("SELECT count(*) FROM identities").fetchone()[0]
    problems = []
    if len(set(lead_ids)) != posts:
        problems.append(f"{posts - len(set(lead_ids))} lead ids answered twice")
    if set(lead_ids) - stored:
        problems.append(f"{len(set(lead_ids) - stored)} answered leads not stored")
    if doubles:
        problems.append(f"{doubles} events stored twice")
    if identities < 2 * posts:
        problems.append(f"only {identities} identities for {posts} new clients (phone + e-mail each)")
    return "; ".join(problems) or f"ok: {posts} answered 201, {posts} stored once, {identities} identities"


async def end_to_end(workdir: Path, posts: int, concurrency: int,
                     profile: Path | None = None) -> tuple[float, int, str, float, float]:
    port = free_port()
    config = workdir / "bench.toml"
    config.write_text(CONFIG)
    db = workdir / "e2e.db"
    env = {**os.environ, "SWITCHBOARD_DATABASE__URL": f"sqlite+aiosqlite:///{db}"}
    command = [sys.executable, "-m", "gateway", "--config", str(config), "serve", "--port", str(port)]
    if profile is not None:
        command[1:1] = ["-m", "cProfile", "-o", str(profile)]
    server = start(command, env, workdir)
    try:
        await wait_ready(port, server)
        before: dict[str, float] = {}

        async def mark() -> None:      # after the warm-up: its one-post commits are not the run's
            before.update(await ingest_totals(port), cpu=cpu_seconds(server.pid))

        rate, lead_ids, latencies = await post_all(f"http://127.0.0.1:{port}/forms/bench", posts, concurrency,
                                                   on_start=mark)
        cpu = cpu_seconds(server.pid) - before["cpu"]
        after = await ingest_totals(port)
        commits, write, writer_cpu = (after[k] - before[k] for k in ("commits", "write", "writer_cpu"))
        print(f"  server: {commits:.0f} group commits, {posts / max(commits, 1):.1f} leads each, writer busy "
              f"{write:.1f} s of {posts / rate:.1f} s ({write / commits * 1e3:.1f} ms per commit), "
              f"writer thread CPU {writer_cpu / posts * 1e3:.3f} ms per lead", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return rate, commits, check_stored(db, lead_ids, posts), cpu / posts, pct(latencies, .99)


async def noop_http(workdir: Path, posts: int, concurrency: int) -> tuple[float, float]:
    port = free_port()
    server = start([sys.executable, "-c", NOOP_SERVER, str(port)], dict(os.environ), workdir)
    try:
        await wait_ready(port, server)
        cpu_before = cpu_seconds(server.pid)
        rate, _, _ = await post_all(f"http://127.0.0.1:{port}/forms/bench", posts, concurrency)
        return rate, (cpu_seconds(server.pid) - cpu_before) / posts
    finally:
        server.terminate()
        server.wait(timeout=30)


async def raw_insert(workdir: Path, posts: int) -> float:
    """The same rows through SQLAlchemy Core executemany, one transaction, same engine settings."""
    from sqlalchemy import insert

    from crm_store.migrate import upgrade_async
    from crm_store.models import Contact, Identity, Interaction, Lead
    from crm_store.session import create_engine

    url = f"sqlite+aiosqlite:///{workdir / 'raw.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        start_time = time.perf_counter()
        async with engine.begin() as connection:
            rows = [form(i) for i in range(posts)]
            await connection.execute(insert(Contact), [
                {"id": i + 1, "display_name": r["name"], "created_at": now, "updated_at": now}
                for i, r in enumerate(rows)])
            await connection.execute(insert(Identity), [
                {"contact_id": i + 1, "kind": kind, "value": r[kind], "confidence": "stated", "created_at": now}
                for i, r in enumerate(rows) for kind in ("phone", "email")])
            await connection.execute(insert(Lead), [
                {"id": i + 1, "contact_id": i + 1, "status": "new", "priority": 0, "channel": "form",
                 "source": {"form": "bench", "utm_source": "yandex"}, "attributes": {"utm_source": "yandex"},
                 "notes": "", "created_at": now, "updated_at": now, "last_activity_at": now}
                for i in range(posts)])
            await connection.execute(insert(Interaction), [
                {"lead_id": i + 1, "contact_id": i + 1, "channel": "form", "event_id": r["submission_id"],
                 "direction": "inbound", "text": r["message"], "attributes": {"utm_source": "yandex"},
                 "created_at": now} for i, r in enumerate(rows)])
        return posts / (time.perf_counter() - start_time)
    finally:
        await engine.dispose()


def print_profile(profile: Path, posts: int) -> None:
    stats = pstats.Stats(str(profile))
    print(f"\nserver profile (cProfile, cumulative, per lead over {posts} posts), top entries:")
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; medians are printed")
    parser.add_argument("--quick", action="store_true", help="2,000 posts, one run")
    parser.add_argument("--profile", type=Path, help="run the server under cProfile, write the profile here")
    args = parser.parse_args()
    if args.quick:
        args.posts, args.repeat = 2000, 1
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
            workdir = Path(tmp)
            noop, noop_cpu = await noop_http(workdir, args.posts, args.concurrency)
            raw = await raw_insert(workdir, args.posts)
            e2e, commits, stored, cpu, p99 = await end_to_end(workdir, args.posts, args.concurrency)
            runs.append((noop, raw, e2e, commits, cpu, p99, noop_cpu))
            print(f"  run: no-op {noop:6.0f}/s, end to end {e2e:6.0f}/s ({e2e / noop:.2f}), "
                  f"{cpu * 1e3:.2f} ms CPU per lead; {stored}", flush=True)
    noop, raw, e2e, commits, cpu, p99, noop_cpu = (statistics.median(r[i] for r in runs) for i in range(7))
    print(f"posts {args.posts} (each a new client: distinct phone + e-mail), concurrency {args.concurrency}, "
          f"{os.cpu_count()} cores, median of {args.repeat} runs")
    print(f"end to end (HTTP form -> committed lead, SQLite, each commit fsynced before its answer): {e2e:8.0f} leads/s "
          f"in ~{int(commits)} group commits, p99 {p99 * 1e3:.0f} ms, server CPU {cpu * 1e3:.2f} ms per lead")
    print(f"raw SQLAlchemy bulk insert of the same rows:                     {raw:8.0f} leads/s")
    print(f"no-op aiohttp handler under the same client load (floor):        {noop:8.0f} posts/s, "
          f"server CPU {noop_cpu * 1e3:.2f} ms per post")
    print(f"ratio end-to-end / no-op HTTP: {e2e / noop:.3f}   (target >= 0.5)")
    print(f"ratio end-to-end / raw insert: {e2e / raw:.3f}")
    print(f"RESULT intake leads_per_s={e2e:.0f} floor={noop:.0f} ratio={e2e / noop:.3f} cpu_ms={cpu * 1e3:.2f}")
    if args.profile:
        with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
            await end_to_end(Path(tmp), args.posts, args.concurrency, profile=args.profile)
        print_profile(args.profile, args.posts)


if __name__ == "__main__":
    asyncio.run(main())
