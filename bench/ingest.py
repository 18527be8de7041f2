"""Form posts over HTTP into a fresh SQLite store, against two baselines measured in the same run.

    python bench/ingest.py [--posts 6000] [--concurrency 64] [--repeat 3]

1. end to end: `switchboard serve` (its own process, fresh SQLite file, synchronous=FULL) takes
   urlencoded form posts from this process at a fixed concurrency; every 201 means committed;
2. raw insert: the same rows (contact, identity, lead, interaction per post) written with
   SQLAlchemy Core bulk inserts in one transaction: the ceiling of the store;
3. no-op HTTP: an aiohttp server in its own process that answers 201 without reading the store,
   under the same client load: the ceiling of any HTTP intake on this machine.
Prints leads/s and the ratios. No asserts: the numbers go into the notes.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def form(i: int) -> dict[str, str]:
    return {"name": f"Client {i}", "phone": f"+7912{i:07d}", "message": "Please call me back",
            "utm_source": "bench", "submission_id": f"bench-{i}"}


async def post_all(url: str, posts: int, concurrency: int) -> float:
    """Post `posts` forms with `concurrency` workers; returns posts per second (all must be 201)."""
    counter = iter(range(posts))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def worker() -> None:
            for i in counter:
                async with http.post(url, data=form(i)) as response:
                    if response.status != 201:
                        raise RuntimeError(f"post {i}: {response.status} {await response.text()}")
                    await response.read()

        for i in range(min(50, posts)):   # warm-up outside the clock: connections, first pages
            async with http.post(url, data=form(posts + i)) as response:
                await response.read()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return posts / (time.perf_counter() - start)


def start(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def end_to_end(workdir: Path, posts: int, concurrency: int) -> tuple[float, int]:
    port = free_port()
    config = workdir / "bench.toml"
    config.write_text(CONFIG)
    db = workdir / "e2e.db"
    env = {**os.environ, "SWITCHBOARD_DATABASE__URL": f"sqlite+aiosqlite:///{db}"}
    server = start([sys.executable, "-m", "gateway", "--config", str(config), "serve", "--port", str(port)],
                   env, workdir)
    try:
        await wait_ready(port, server)
        rate = await post_all(f"http://127.0.0.1:{port}/forms/bench", posts, concurrency)
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
            metrics = await response.text()
        commits = next(int(line.split()[1]) for line in metrics.splitlines()
                       if line.startswith("switchboard_ingest_commits_total"))
        return rate, commits
    finally:
        server.terminate()
        server.wait(timeout=30)


async def noop_http(workdir: Path, posts: int, concurrency: int) -> float:
    port = free_port()
    server = start([sys.executable, "-c", NOOP_SERVER, str(port)], dict(os.environ), workdir)
    try:
        await wait_ready(port, server)
        return await post_all(f"http://127.0.0.1:{port}/forms/bench", posts, concurrency)
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
                {"contact_id": i + 1, "kind": "phone", "value": r["phone"], "confidence": "stated", "created_at": now}
                for i, r in enumerate(rows)])
            await connection.execute(insert(Lead), [
                {"id": i + 1, "contact_id": i + 1, "status": "new", "priority": 0, "channel": "form",
                 "source": {"form": "bench", "utm_source": "bench"}, "attributes": {"utm_source": "bench"},
                 "notes": "", "created_at": now, "updated_at": now, "last_activity_at": now}
                for i in range(posts)])
            await connection.execute(insert(Interaction), [
                {"lead_id": i + 1, "contact_id": i + 1, "channel": "form", "event_id": r["submission_id"],
                 "direction": "inbound", "text": r["message"], "attributes": {"utm_source": "bench"},
                 "created_at": now} for i, r in enumerate(rows)])
        return posts / (time.perf_counter() - start_time)
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; medians are printed")
    args = parser.parse_args()
    runs: list[tuple[float, float, float, int]] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
            workdir = Path(tmp)
            noop = await noop_http(workdir, args.posts, args.concurrency)
            raw = await raw_insert(workdir, args.posts)
            e2e, commits = await end_to_end(workdir, args.posts, args.concurrency)
            runs.append((noop, raw, e2e, commits))
    # This machine is shared and noisy: the median of each measure, taken in the same runs.
    noop, raw, e2e = (statistics.median(r[i] for r in runs) for i in range(3))
    commits = int(statistics.median(r[3] for r in runs))
    print(f"posts {args.posts}, concurrency {args.concurrency}, {os.cpu_count()} cores, median of {args.repeat} runs")
    print(f"end to end (HTTP form -> committed lead, SQLite synchronous=FULL): {e2e:8.0f} leads/s "
          f"in ~{commits} group commits")
    print(f"raw SQLAlchemy bulk insert of the same rows:                     {raw:8.0f} leads/s")
    print(f"no-op aiohttp handler under the same client load:                {noop:8.0f} posts/s")
    print(f"ratio end-to-end / raw insert: {e2e / raw:.3f}   (target >= 0.2)")
    print(f"ratio end-to-end / no-op HTTP: {e2e / noop:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
