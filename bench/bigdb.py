"""A big database against an empty one: intake, the card, search, the lead list and the board (issue 24, item 6).

    python bench/bigdb.py [--leads 1000000] [--engines sqlite,postgresql] [--posts 2000] [--reads 200]
                          [--repeat 2] [--quick] [--keep DIR]

For each engine two databases, migrated to head and filled by the same generator: the "empty" one
with SMALL leads (something to read: a card needs a lead), the big one with N (1,000,000). The data
is a year of a contact centre: 50 operators in 5 teams and a supervisor, clients with a phone, half
with an e-mail, one in ten with a Telegram id, Cyrillic and Latin names (bench/search.py's people),
one client in five coming back with another lead, a company for a quarter of them, 1-5 interactions
per lead (form, e-mail, call, chat; answers by the operator, calls with their attributes), the
default funnel's stages following the status, the newest 5 % of leads still open (a fifth of those
nobody's yet), an open task per open lead and a done one on every tenth closed lead. The fill is a
fixture (bench/bigdb_fill.py), written in bulk (Core executemany, 5,000 leads a transaction), not measured.

Measured on both databases, alternating between them in blocks so the machine's load hits both alike:
  intake  form posts through a real `switchboard serve` (bench/ingest.py's client, concurrency 64):
          four in five a new client (distinct phone and e-mail), one in five a stored client coming
          back (their phone in national spelling, their name): identity lookups against the big
          tables; every post answered 201 and stored once (checked); leads/s and p50/p95. The posts start
          once the fresh server idles (bench/bigdb_intake.py).
  card    `leads.card` as `GET /api/v1/leads/{id}` reads it (a supervisor), and the screen pop's card
          (`gateway.voice.cards.CardReader`: routing's view, 20 timeline items), random leads.
  search  bench/search.py's searches through `leads.list_leads` (names, phones, e-mails, words).
  list    the console's first pages: an operator's own open leads and a supervisor's open leads, with
          what the route adds (`contact_summaries`, `lead_lines.lines`).
  board   the default funnel's board (`board.board`), a supervisor and an operator.
Each prints p50/p95 and a rate on both databases and the ratio big/empty (of the rate; of 1/p50 for the
reads): the issue's target is >= 0.8. No asserts: the figures go into bench/README.md.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
from sqlalchemy import event, func, make_url, select  # noqa: E402

from crm_store import batch_state, board, lead_lines, leads, new_rows  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.models import Pipeline  # noqa: E402
from crm_store.session import create_engine, session_factory  # noqa: E402
from crm_store.types import OPEN_STATUSES, Claim, IngestRequest, LeadFilter, Viewer  # noqa: E402
from support.postgres_server import running_postgres  # noqa: E402

search_bench = _paths.sibling("search")     # its people and its searches

fixture = _paths.sibling("bigdb_fill")     # what the databases hold
intake_run = _paths.sibling("bigdb_intake")     # form posts through a fresh `switchboard serve`
AGENTS, FIRST_NEW_POST, SMALL, SUPERVISOR, T0, YEAR = (
    fixture.AGENTS, fixture.FIRST_NEW_POST, fixture.SMALL, fixture.SUPERVISOR, fixture.T0,
    fixture.YEAR)
Shape, fill, operator = fixture.Shape, fixture.fill, fixture.operator

# ---------------------------------------------------------------- measuring


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Figures:
    samples: list[float]       # ms
    seconds: float = 0.0       # wall time of the whole run (intake: its rate)
    count: int = 0
    # ms of this process's CPU per read, or of the server's per lead for intake (steadier than wall under load)
    cpu: list[float] = field(default_factory=list)

    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 1000 / max(pct(self.samples, .5), 1e-9)


class Database:
    """One filled database and what the reads need of it."""

    def __init__(self, name: str, url: str, leads_count: int) -> None:
        self.name, self.url, self.leads = name, url, leads_count
        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)
        from gateway.voice.cards import CardReader     # the pop's own reader (a gateway class: bench only)
        self.pop = CardReader(url, self.sessions)
        self.pipeline_id = 0

    async def open(self) -> None:
        async with self.sessions() as session:
            self.pipeline_id = int(await session.scalar(select(func.min(Pipeline.id))) or 0)

    async def close(self) -> None:
        await self.pop.close()
        await self.engine.dispose()


Read = Callable[[Database, int], Awaitable[Any]]


async def card_read(db: Database, k: int) -> None:
    lead_id = random.Random(k).randrange(1, db.leads + 1)
    async with db.sessions() as session:
        await leads.card(session, SUPERVISOR, lead_id)


async def pop_read(db: Database, k: int) -> None:
    await db.pop.read(random.Random(k + 1).randrange(1, db.leads + 1))


_ASKED: dict[int, list[tuple[str, str | None, str | None]]] = {}


async def search_read(db: Database, k: int) -> None:
    """bench/search.py's mix, for clients this database holds (both number them 1, 2, ...)."""
    contacts = Shape(db.leads).contacts
    if contacts not in _ASKED:
        _ASKED[contacts] = search_bench.queries(contacts, 20_000)
    q, q_phone, q_email = _ASKED[contacts][k % 20_000]
    async with db.sessions() as session:
        await leads.list_leads(session, SUPERVISOR, LeadFilter(q=q, q_phone=q_phone, q_email=q_email))


async def _page(db: Database, viewer: Viewer, f: LeadFilter) -> None:
    async with db.sessions() as session:
        found = await leads.list_leads(session, viewer, f)
        await leads.contact_summaries(session, {x.contact_id for x in found})
        await lead_lines.lines(session, found)


OPEN = tuple(sorted(OPEN_STATUSES))


async def list_mine(db: Database, k: int) -> None:
    uid = 1 + k % AGENTS
    await _page(db, operator(uid), LeadFilter(status=OPEN, assignee_id=uid))


async def list_all(db: Database, k: int) -> None:
    await _page(db, SUPERVISOR, LeadFilter(status=OPEN))


async def list_pool(db: Database, k: int) -> None:
    await _page(db, operator(1 + k % AGENTS), LeadFilter(pool=True))


async def board_boss(db: Database, k: int) -> None:
    async with db.sessions() as session:
        await board.board(session, SUPERVISOR, board.BoardFilter(pipeline_id=db.pipeline_id))


async def board_operator(db: Database, k: int) -> None:
    async with db.sessions() as session:
        await board.board(session, operator(1 + k % AGENTS), board.BoardFilter(pipeline_id=db.pipeline_id))


READS: dict[str, Read] = {"card": card_read, "pop_card": pop_read, "search": search_read, "list_mine": list_mine,
                          "list_all": list_all, "list_pool": list_pool, "board": board_boss,
                          "board_operator": board_operator}


async def alternate(empty: Database, big: Database, read: Read, n: int, block: int = 10) -> tuple[Figures, Figures]:
    """`n` reads on each database, in alternating blocks (the load of the moment falls on both)."""
    for db in (empty, big):             # warm both alike: statement caches, the file's first pages
        for k in range(5):
            await read(db, 10_000 + k)
    out = {empty.name: Figures([]), big.name: Figures([])}
    for at in range(0, n, block):
        for db in (empty, big) if (at // block) % 2 == 0 else (big, empty):
            for k in range(at, min(n, at + block)):
                started, cpu = time.perf_counter(), time.process_time()
                await read(db, k)
                out[db.name].samples.append((time.perf_counter() - started) * 1000)
                out[db.name].cpu.append((time.process_time() - cpu) * 1000)
    return out[empty.name], out[big.name]


# ---------------------------------------------------------------- query plans (--explain)


async def intake_reads(db: Database, k: int) -> None:
    """What the intake's writer reads per batch before writing (crm_store.batch_state): run in this process,
    so that its statements can be explained; a stored client's phone and a new one."""
    contact = 1 + (k * 7919) % Shape(db.leads).contacts
    _, phone, _, _ = search_bench.person(contact, random.Random(contact))
    now = T0 + YEAR
    requests = [IngestRequest(channel="form", event_id=f"bench:explain-{k}-{n}", received_at=now, name="x",
                              claims=(Claim("phone", value, True, "stated"),))
                for n, value in enumerate((phone, f"+7913{k:07d}"))]

    def reads(session: Any) -> None:
        batch_state.already_stored(session, requests)
        batch_state.prefetch(session, requests, timedelta(days=30), now)
        new_rows.reserve_id_ranges(session, {"contacts": 1, "leads": 2, "interactions": 2, "identities": 1})

    async with db.sessions() as session:
        await session.run_sync(reads)


BIG_TABLES = ("leads", "interactions", "contacts", "identities", "tasks")


async def explain(db: Database, engine_name: str) -> None:
    """Each measured item's statements, once, with the engine's plan; full scans of the big tables flagged."""
    captured: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not executemany:
            captured.append((statement, parameters))

    engines = [db.engine.sync_engine] + ([db.pop._cards._engine] if db.pop._cards._engine is not None else [])
    for engine in engines:
        event.listen(engine, "before_cursor_execute", keep)
    items: dict[str, Read] = {"intake": intake_reads, **READS}
    seen: set[str] = set()
    flagged = 0
    try:
        for item, read in items.items():
            captured.clear()
            await read(db, 7)
            print(f"\n=== {engine_name} {item}: {len(captured)} statements", flush=True)
            for statement, parameters in list(captured):
                short = " ".join(statement.split())
                if short in seen:
                    continue
                seen.add(short)
                plan = await _plan(db, statement, parameters)
                full = [line for line in plan if _full_scan(line)]
                flagged += len(full)
                print(f"--- {short[:400]}{' ...' if len(short) > 400 else ''}")
                for line in plan:
                    print(f"    {'FULL SCAN ' if line in full else ''}{line}")
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", keep)
    print(f"\n{engine_name}: {flagged} plan lines scan a whole big table ({', '.join(BIG_TABLES)})", flush=True)
    print(f"RESULT bigdb_{engine_name}_plans full_scans={flagged} leads={db.leads}", flush=True)


def _full_scan(line: str) -> bool:
    words = line.replace('"', " ").split()
    for table in BIG_TABLES:
        if ("SCAN" in words and table in words and "INDEX" not in words) \
                or ("Seq" in words and "Scan" in words and table in words):
            return True
    return False


async def _plan(db: Database, statement: str, parameters: Any) -> list[str]:
    if db.url.startswith("sqlite"):
        with sqlite3.connect(make_url(db.url).database) as conn:
            return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + statement, parameters or ())]
    conn = await asyncpg.connect(make_url(db.url).set(drivername="postgresql").render_as_string(False))
    try:
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(parameters or ()))
    finally:
        await conn.close()
    return [row[0].strip() for row in rows if "Scan" in row[0] or "Execution Time" in row[0] or "Sort" in row[0]]


# ---------------------------------------------------------------- the run


def line(item: str, engine: str, leads_count: int, empty: Figures, big: Figures, unit: str, extra: str = "") -> float:
    ratio = big.rate() / empty.rate()
    if empty.cpu and big.cpu:   # reads: the CPU they took here too (p50), which the machine's load moves less
        cpu_ratio = pct(empty.cpu, .5) / max(pct(big.cpu, .5), 1e-9)
        extra += f" | CPU p50 {pct(empty.cpu, .5):.2f} -> {pct(big.cpu, .5):.2f} ms: {cpu_ratio:.2f}"
    print(f"  {item:15} empty p50 {pct(empty.samples, .5):7.2f} p95 {pct(empty.samples, .95):7.2f} ms "
          f"{empty.rate():8.0f} {unit} | big p50 {pct(big.samples, .5):7.2f} p95 {pct(big.samples, .95):7.2f} ms "
          f"{big.rate():8.0f} {unit} | ratio {ratio:.2f}{extra}", flush=True)
    print(f"RESULT bigdb_{engine}_{item} ratio={ratio:.2f} big_p50_ms={pct(big.samples, .5):.2f} "
          f"big_p95_ms={pct(big.samples, .95):.2f} empty_p50_ms={pct(empty.samples, .5):.2f} "
          f"big_rate={big.rate():.0f} empty_rate={empty.rate():.0f} leads={leads_count}"
          + (f" cpu_ratio={pct(empty.cpu, .5) / max(pct(big.cpu, .5), 1e-9):.2f}" if empty.cpu and big.cpu else ""),
          flush=True)
    return ratio


def cached(path: Path) -> float:
    """Read the file through, so the page cache holds it as it would a server's that has run a while.

    This machine's page cache loses a kept file between runs (22 GB free, 1.9 GB cached): read at ~100 MB/s
    from the disk, the 1,000,000-lead file's index pages made intake 0.23-0.39 of empty, 0.96 once cached."""
    started = time.perf_counter()
    with path.open("rb", buffering=0) as f:
        while f.read(8 << 20):
            pass
    return time.perf_counter() - started


async def run(engine: str, urls: tuple[str, str], workdir: Path, args: argparse.Namespace) -> None:
    for url, count in zip(urls, (SMALL, args.leads), strict=True):
        path = make_url(url).database if engine == "sqlite" else None
        if path and Path(path).exists():     # --keep: filled by an earlier run; brought to the current schema
            await asyncio.to_thread(upgrade, url)
            print(f"{engine}: {path} reused ({count:,} leads), migrated to head", file=sys.stderr, flush=True)
            continue
        seconds = await fill(url, count)
        print(f"{engine}: {count:,} leads filled in {seconds:.0f} s", file=sys.stderr, flush=True)
    for url in urls if engine == "sqlite" else ():
        seconds = await asyncio.to_thread(cached, Path(make_url(url).database or ""))
        print(f"{engine}: {make_url(url).database} read into the page cache in {seconds:.1f} s", file=sys.stderr,
              flush=True)
    empty, big = Database("empty", urls[0], SMALL), Database("big", urls[1], args.leads)
    await empty.open()
    await big.open()
    load = os.getloadavg()
    print(f"{engine}: empty = {SMALL:,} leads, big = {args.leads:,} leads; load {load[0]:.1f} {load[1]:.1f}",
          flush=True)
    if args.explain:
        try:
            await explain(big, engine)
        finally:
            await empty.close()
            await big.close()
        return
    try:
        runs: dict[str, list[Figures]] = {"empty": [], "big": []}
        cpus: dict[str, list[float]] = {"empty": [], "big": []}    # server CPU ms a lead, each run
        notes = []
        first = FIRST_NEW_POST + int(time.time()) % 400 * 10_000    # a later run on kept files posts new forms
        for r in range(args.repeat if "intake" in args.items else 0):
            for db in (empty, big) if r % 2 == 0 else (big, empty):
                done = await intake_run.intake(workdir, db, first, args.posts, args.concurrency)
                first += args.posts
                figures = Figures(done.latencies, done.seconds, args.posts)
                runs[db.name].append(figures)
                cpus[db.name].append(done.cpu_ms)
                notes.append(f"{db.name} {figures.rate():.0f}/s {done.cpu_ms:.2f} ms CPU/lead ({done.check})")
        if notes:
            print("  intake runs: " + "; ".join(notes), flush=True)
            # The rate of the best run; beside it the server's CPU a lead over all runs, which the load moves less.
            best = {name: Figures(**{**vars(max(figs, key=Figures.rate)), "cpu": cpus[name]})
                    for name, figs in runs.items()}
            line("intake", engine, args.leads, best["empty"], best["big"], "leads/s", f" (best of {args.repeat})")
        for item, read in READS.items():
            if item not in args.items:
                continue
            n = args.reads if item in ("card", "pop_card", "search") else max(20, args.reads // 4)
            e, b = await alternate(empty, big, read, n)
            line(item, engine, args.leads, e, b, "/s")
        load = os.getloadavg()
        print(f"  load at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)
    finally:
        await empty.close()
        await big.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--posts", type=int, default=2000, help="form posts per intake run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2, help="intake runs per database (alternating)")
    parser.add_argument("--reads", type=int, default=200, help="reads per item and database")
    parser.add_argument("--items", default=",".join(("intake", *READS)), help="what to measure (default: all)")
    parser.add_argument("--explain", action="store_true",
                        help="print the plan of every statement the items run on the big database, and stop")
    parser.add_argument("--quick", action="store_true", help="100,000 leads, SQLite only, one intake run each")
    parser.add_argument("--keep", type=Path, help="keep the SQLite files in this folder; a later run reuses them "
                                                  "(migrated to head: before/after an index on the same data)")
    args = parser.parse_args()
    if args.quick:
        args.leads, args.engines, args.repeat, args.posts, args.reads = 100_000, "sqlite", 1, 1000, 100
        print("--quick: 100,000 leads (not the issue's 1,000,000), SQLite only, one intake run of 1,000 posts "
              "per database", flush=True)
    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory(prefix="switchboard-bigdb-") as tmp:
        workdir = Path(tmp)
        if "sqlite" in engines:
            files = args.keep or workdir
            files.mkdir(parents=True, exist_ok=True)
            await run("sqlite", (f"sqlite+aiosqlite:///{files / f'empty-{SMALL}.db'}",
                                 f"sqlite+aiosqlite:///{files / f'big-{args.leads}.db'}"), workdir, args)
        if "postgresql" in engines:
            with running_postgres() as hostport:
                host, port = hostport.split(":")
                for name in ("empty", "big"):
                    subprocess.run(["psql", "-h", host, "-p", port, "-U", "postgres", "-qc", f"CREATE DATABASE {name}"],
                                   check=True, capture_output=True)
                await run("postgresql", (f"postgresql+asyncpg://postgres@{hostport}/empty",
                                         f"postgresql+asyncpg://postgres@{hostport}/big"), workdir, args)


if __name__ == "__main__":
    asyncio.run(main())
