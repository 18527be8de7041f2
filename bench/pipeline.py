"""The board and the funnel report over 100,000 leads in 3 pipelines, SQLite and PostgreSQL, against a bare indexed query.

    python bench/pipeline.py [--leads 100000] [--runs 60] [--engines sqlite,postgresql]

For each engine: a fresh database migrated to head (the default "Sales" pipeline) plus two more
pipelines (wholesale, support) of five stages, then N leads over a year spread across the three,
each with its history (it entered New, and most moved on: 2 to 4 stage changes), an amount and an
owner in one of 5 teams, written with Core bulk inserts. Measured through the store exactly as the
API runs them: the board's first page (20 cards per column and every column's totals) for a
manager seeing their team, and for a supervisor seeing all; the funnel report of one pipeline for a
quarter. The baseline is the cheapest indexed read of the same table: one lead by primary key.
Targets: board p95 under 100 ms, report p95 under 1 s.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import insert, select  # noqa: E402

from crm_store import board, funnel  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.models import Contact, Lead, Pipeline, Stage, StageChange, Team, User  # noqa: E402
from crm_store.session import create_engine, session_factory  # noqa: E402
from crm_store.types import Role, Viewer  # noqa: E402
from support.postgres_server import running_postgres  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 5000
TEAMS, PER_TEAM = 5, 8
STATUS_OF_KIND = {"won": "won", "lost": "lost", "closed": "closed"}


async def fill(url: str, count: int) -> list[int]:
    """The data; returns the pipelines' ids."""
    engine = create_engine(url)
    rng = random.Random(7)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Team), [{"id": t, "name": f"team{t}"} for t in range(1, TEAMS + 1)])
            await conn.execute(insert(User), [
                {"id": u, "username": f"u{u}", "display_name": f"Manager {u}", "role": "manager", "password_hash": "x",
                 "team_id": 1 + (u - 1) // PER_TEAM, "skills": {}, "capacity": {}, "locale": "en", "active": True,
                 "created_at": T0} for u in range(1, TEAMS * PER_TEAM + 1)])
            for key in ("wholesale", "support"):
                pid = (await conn.execute(insert(Pipeline).values(key=key, name=key.title(), position=1,
                                                                  created_at=T0).returning(Pipeline.id))).scalar_one()
                await conn.execute(insert(Stage), [
                    {"pipeline_id": pid, "name": n, "kind": k, "position": i, "status": None, "required_fields": [],
                     "deadline_hours": None, "retired": False, "created_at": T0}
                    for i, (n, k) in enumerate((("New", "open"), ("Qualified", "open"), ("Proposal", "open"),
                                                ("Won", "won"), ("Lost", "lost")))])
            pipes = [p for p in (await conn.execute(select(Pipeline.id).order_by(Pipeline.id))).scalars()]
            stages = {p: [(s.id, s.kind) for s in (await conn.execute(
                select(Stage.id, Stage.kind).where(Stage.pipeline_id == p).order_by(Stage.position))).all()]
                for p in pipes}
        change_id = 0
        for start in range(1, count + 1, CHUNK):
            contacts, rows, changes = [], [], []
            for i in range(start, min(count + 1, start + CHUNK)):
                at = T0 + timedelta(seconds=i * 300)      # a year of leads
                pid = pipes[i % 3]
                path = stages[pid]
                opens = [s for s in path if s[1] == "open"]
                ends = [s for s in path if s[1] != "open"]
                walk = [opens[0]] + opens[1:1 + rng.randrange(len(opens))]
                if rng.random() < 0.6:
                    walk.append(rng.choice(ends))
                user = rng.randrange(1, TEAMS * PER_TEAM + 1)
                final = walk[-1]
                status = STATUS_OF_KIND.get(final[1], "in_progress")
                moved = at
                for k, (sid, _) in enumerate(walk):
                    change_id += 1
                    changes.append({"id": change_id, "lead_id": i, "pipeline_id": pid,
                                    "from_stage_id": walk[k - 1][0] if k else None, "to_stage_id": sid, "at": moved,
                                    "user_id": user})
                    moved += timedelta(hours=rng.randrange(1, 200))
                contacts.append({"id": i, "display_name": f"Client {i}", "created_at": at, "updated_at": at})
                rows.append({"id": i, "contact_id": i, "status": status, "priority": 0,
                             "channel": rng.choice(("form", "email", "voice", "telegram")), "source": {},
                             "attributes": {}, "notes": "", "created_at": at, "updated_at": moved,
                             "last_activity_at": moved, "assignee_id": user, "owner_id": user,
                             "team_id": 1 + (user - 1) // PER_TEAM, "pipeline_id": pid, "stage_id": final[0],
                             "stage_entered_at": moved, "amount": rng.randrange(1000, 10_000_000), "currency": "RUB",
                             "closed_at": moved if status != "in_progress" else None,
                             "outcome": status if status in ("won", "lost") else None,
                             "lost_reason": rng.choice(("price", "competitor", None)) if status == "lost" else None,
                             "search_text": ""})
            async with engine.begin() as conn:
                for model, values in ((Contact, contacts), (Lead, rows), (StageChange, changes)):
                    await conn.execute(insert(model), values)
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                for table in ("contacts", "leads", "stage_changes", "users", "teams"):
                    await conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                               f"(SELECT max(id) FROM {table}))")
            await conn.exec_driver_sql("ANALYZE")
        return pipes
    finally:
        await engine.dispose()


async def timed(n: int, step: Callable[[int], Awaitable[object]]) -> list[float]:
    samples = []
    for k in range(n):
        started = time.perf_counter()
        await step(k)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


async def measure(url: str, count: int, n: int, pipes: list[int]) -> dict[str, list[float]]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    rng = random.Random(3)
    ids = [rng.randrange(1, count + 1) for _ in range(n)]
    boss = Viewer(user_id=1, role=Role.SUPERVISOR, team_id=None)
    quarter = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
    try:
        async with sessions() as session:
            async def team_board(k: int) -> None:
                user = 1 + k % (TEAMS * PER_TEAM)
                who = Viewer(user_id=user, role=Role.MANAGER, team_id=1 + (user - 1) // PER_TEAM)
                await board.board(session, who, board.BoardFilter(pipeline_id=pipes[k % 3]))

            async def all_board(k: int) -> None:
                await board.board(session, boss, board.BoardFilter(pipeline_id=pipes[k % 3]))

            async def report(k: int) -> None:
                await funnel.report(session, boss, pipes[k % 3], *quarter, by="manager" if k % 2 else None)

            async def by_key(k: int) -> None:
                await session.scalar(select(Lead).where(Lead.id == ids[k]))

            for step in (team_board, all_board, by_key):
                await timed(10, step)       # warm the caches alike
            return {"team board": await timed(n, team_board), "all board": await timed(n, all_board),
                    "report": await timed(max(10, n // 4), report), "by key": await timed(n, by_key)}
    finally:
        await engine.dispose()


async def run(engine_name: str, url: str, count: int, n: int) -> None:
    await asyncio.to_thread(upgrade, url)
    started = time.perf_counter()
    pipes = await fill(url, count)
    filled = time.perf_counter() - started
    r = await measure(url, count, n, pipes)
    base = p(r["by key"], 95)
    parts = [f"{name} p50 {p(s, 50):.1f} ms p95 {p(s, 95):.1f} ms ({p(s, 95) / base:.0f}x)"
             for name, s in r.items() if name != "by key"]
    print(f"{engine_name:10} {count} leads in 3 pipelines (written in {filled:.0f} s): " + " | ".join(parts)
          + f" | lead by key p95 {base:.2f} ms", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in engines:
            await run("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / 'pipeline.db'}", args.leads, args.runs)
        if "postgresql" in engines:
            with running_postgres() as hostport:
                host, port = hostport.split(":")
                subprocess.run(["psql", "-h", host, "-p", port, "-U", "postgres", "-qc", "CREATE DATABASE bench"],
                               check=True, capture_output=True)
                await run("postgresql", f"postgresql+asyncpg://postgres@{hostport}/bench", args.leads, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
