"""bench/bigdb.py's intake: form posts through a fresh `switchboard serve` on a filled database.

Four posts in five are a new client (bench/ingest.py's forms), one in five a stored client coming back
(their phone in national spelling). The posts start once the fresh server has settled: a serve on a
big database has work of its own right after it answers /healthz (routing's waiting tasks read back,
first statements), and the empty database's serve has less of it, so posting at once measured the
start-up, not the intake (session 22: 0.51 and 0.60 of empty, then 0.74-1.12 with the start fixed).
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import asyncio  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import select  # noqa: E402

from crm_store.models import Interaction  # noqa: E402
from support.processes import wait_ready  # noqa: E402

intake_bench = _paths.sibling("ingest")     # its client's forms, server start, /proc CPU
search_bench = _paths.sibling("search")     # its people
fixture = _paths.sibling("bigdb_fill")      # what the databases hold

# Settled: under this share of a core over one window, at most SETTLE_LIMIT seconds after the warm-up.
SETTLED_CORE_SHARE = 0.05
SETTLE_WINDOW = 0.5
SETTLE_LIMIT = 120.0


@dataclass(frozen=True)
class IntakeRun:
    latencies: list[float]     # ms, one a post
    seconds: float             # wall time of the posts
    check: str                 # every 201 stored once, the writer thread's CPU, how long the server took to settle
    cpu_ms: float              # the server's CPU a lead


def returning_form(contact: int, i: int) -> dict[str, str]:
    """A stored client writing again: their phone as people type it at home, their name, no e-mail."""
    name, phone, _, _ = search_bench.person(contact, random.Random(contact))
    d = phone.removeprefix("+7")
    return {"name": name, "phone": f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
            "message": "Добрый день, я снова к вам: нужен ещё один счёт.", "submission_id": f"bigdb-back-{i}"}


def forms(leads: int, first: int, posts: int) -> Iterator[dict[str, str]]:
    contacts = fixture.Shape(leads).contacts
    rng = random.Random(first)
    for i in range(first, first + posts):
        yield (returning_form(rng.randrange(1, contacts + 1), i) if i % fixture.RETURNING == 0
               else intake_bench.form(i))


async def settled(pid: int) -> float:
    """Seconds until the server idles (a window under SETTLED_CORE_SHARE of a core), bounded by SETTLE_LIMIT."""
    started = time.perf_counter()
    while time.perf_counter() - started < SETTLE_LIMIT:
        before = intake_bench.cpu_seconds(pid)
        await asyncio.sleep(SETTLE_WINDOW)
        if intake_bench.cpu_seconds(pid) - before < SETTLED_CORE_SHARE * SETTLE_WINDOW:
            break
    return time.perf_counter() - started


async def intake(workdir: Path, db: Any, first: int, posts: int, concurrency: int) -> IntakeRun:
    """Posts through a fresh `switchboard serve` on `db` (bench/bigdb.py's Database), once it has settled."""
    port = intake_bench.free_port()
    config = workdir / "bench.toml"
    config.write_text(intake_bench.CONFIG)
    env = {**os.environ, "SWITCHBOARD_DATABASE__URL": db.url}
    server = intake_bench.start([sys.executable, "-m", "gateway", "--config", str(config), "serve", "--port",
                                 str(port)], env, workdir)
    items = list(forms(db.leads, first, posts))
    latencies: list[float] = []
    answered: list[int] = []
    try:
        await wait_ready(port, server)
        import aiohttp
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
            url = f"http://127.0.0.1:{port}/forms/bench"
            for i in range(20):          # warm-up: connections, first statements
                async with http.post(url, data=intake_bench.form(9_000_000 + first + i)) as response:
                    await response.read()
            settle = await settled(server.pid)
            cpu_before = intake_bench.cpu_seconds(server.pid)
            writer_before = (await intake_bench.ingest_totals(port))["writer_cpu"]
            queue = iter(items)

            async def worker() -> None:
                for data in queue:
                    sent = time.perf_counter()
                    async with http.post(url, data=data) as response:
                        if response.status != 201:
                            raise RuntimeError(f"{data['submission_id']}: {response.status} {await response.text()}")
                        answered.append((await response.json())["lead_id"])
                    latencies.append((time.perf_counter() - sent) * 1000)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            seconds = time.perf_counter() - started
            cpu = intake_bench.cpu_seconds(server.pid) - cpu_before
            writer = (await intake_bench.ingest_totals(port))["writer_cpu"] - writer_before
    except Exception:
        print(intake_bench.server_log(workdir), file=sys.stderr)
        raise
    finally:
        server.terminate()
        server.wait(timeout=60)
    check = (f"{await stored_once(db, items, answered)}; writer thread {writer / posts * 1000:.2f} ms CPU/lead; "
             f"settled {settle:.1f} s after the warm-up")
    return IntakeRun(latencies, seconds, check, cpu / posts * 1000)


async def stored_once(db: Any, items: list[dict[str, str]], answered: list[int]) -> str:
    """Every 201 is one stored form interaction, on the lead it answered; none twice."""
    wanted = {f"bench:{d['submission_id']}" for d in items}
    async with db.sessions() as session:
        rows = (await session.execute(select(Interaction.event_id, Interaction.lead_id).where(
            Interaction.channel == "form", Interaction.event_id.in_(wanted)))).all()
    problems = []
    if len(rows) != len(wanted):
        problems.append(f"{len(wanted) - len(rows)} of {len(wanted)} posts not stored exactly once")
    if {lead for _, lead in rows} != set(answered):
        problems.append("answered lead ids differ from the stored ones")
    return "; ".join(problems) or f"ok: {len(wanted)} answered 201, each stored once"
