"""A month's manager report over a year of history, on SQLite and PostgreSQL, against a bare indexed count.

    python bench/reports.py [--interactions 1000000] [--leads 100000] [--runs 30] [--engines sqlite,postgresql] [--quick]

For each engine: a fresh database migrated to head, then 50 agents in 5 teams and a year (2026) of work
written with Core bulk inserts: leads (a fifth won, a tenth lost, each with its routing task and one or two
offers: accepted, declined or timed out), interactions spread over the year (inbound messages and
e-mails, staff answers with their author, call records with who rang and who answered, talk time), and
each agent's presence changes (eight a working day); each call's `call_facts` rows, as the store writes
them with the call's record. Then `crm_store.reports.manager_figures` runs for
one month for everyone, as `GET /api/v1/reports/managers` runs it for a supervisor. The baseline, in the
same run on the same data: a bare indexed count of that month's interactions. Prints p50/p95 and the ratio.
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
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import func, insert, select  # noqa: E402

from crm_store import call_facts, reports  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.models import (AgentActivity, CallFact, Contact, Interaction, Lead, Reservation, RoutingTask, Team,  # noqa: E402
                              User)
from crm_store.session import create_engine, session_factory  # noqa: E402
from support.postgres_server import running_postgres  # noqa: E402

YEAR = datetime(2026, 1, 1, tzinfo=UTC)
SECONDS = 365 * 86400
AGENTS, TEAMS = 50, 5
CHUNK = 10_000
MONTH = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
CHANNELS = ("telegram", "email", "form", "whatsapp")


async def fill(url: str, n_interactions: int, n_leads: int) -> None:
    engine = create_engine(url)
    rng = random.Random(5)
    agents = list(range(1, AGENTS + 1))
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Team), [{"id": t, "name": f"team{t}"} for t in range(1, TEAMS + 1)])
            await conn.execute(insert(User), [
                {"id": a, "username": f"agent{a}", "display_name": f"Agent {a}", "role": "manager",
                 "password_hash": "-", "extension": str(100 + a), "skills": {}, "capacity": {},
                 "team_id": 1 + a % TEAMS, "locale": "en", "active": True, "created_at": YEAR} for a in agents])
        for start in range(1, n_leads + 1, CHUNK):
            contacts, leads, tasks, offers = [], [], [], []
            for i in range(start, min(n_leads + 1, start + CHUNK)):
                at = YEAR + timedelta(seconds=(i * SECONDS) // n_leads)
                agent = rng.choice(agents)
                roll = rng.random()
                status = "won" if roll < 0.2 else "lost" if roll < 0.3 else "assigned"
                closed = at + timedelta(days=rng.randint(0, 20)) if status != "assigned" else None
                contacts.append({"id": i, "display_name": f"Client {i}", "created_at": at, "updated_at": at})
                leads.append({"id": i, "contact_id": i, "status": status, "priority": 0, "channel": rng.choice(CHANNELS),
                              "source": {"utm_source": rng.choice(("ads", "seo", "mail"))}, "attributes": {},
                              "subject": None, "notes": "", "assignee_id": agent, "owner_id": agent,
                              "team_id": 1 + agent % TEAMS, "outcome": status if closed else None, "created_at": at,
                              "updated_at": at, "last_activity_at": at, "closed_at": closed, "search_text": ""})
                task_id = f"lead:{i}:{i}"
                assigned = at + timedelta(seconds=rng.randint(2, 120))
                tasks.append({"id": task_id, "lead_id": i, "kind": "lead", "channel": "chat", "queue": "default",
                              "priority": 0, "skills": {}, "state": "completed", "assignee_id": agent,
                              "created_at": at, "sla_deadline": at + timedelta(minutes=5), "assigned_at": assigned,
                              "finished_at": assigned + timedelta(hours=1)})
                if rng.random() < 0.4:
                    other = rng.choice(agents)
                    offers.append({"id": f"{task_id}:0", "task_id": task_id, "agent_id": other, "created_at": at,
                                   "expires_at": at + timedelta(seconds=30), "explanation": {},
                                   "outcome": rng.choice(("rejected", "timeout")), "decided_at": at + timedelta(seconds=30)})
                offers.append({"id": f"{task_id}:1", "task_id": task_id, "agent_id": agent, "created_at": at,
                               "expires_at": at + timedelta(seconds=30), "outcome": "accepted", "decided_at": assigned,
                               "explanation": {"policy": "longest_idle", "chosen": [str(agent)]}})
            async with engine.begin() as conn:
                for model, values in ((Contact, contacts), (Lead, leads), (RoutingTask, tasks), (Reservation, offers)):
                    await conn.execute(insert(model), values)
        for start in range(1, n_interactions + 1, CHUNK):
            rows, facts = [], []
            for i in range(start, min(n_interactions + 1, start + CHUNK)):
                at = YEAR + timedelta(seconds=(i * SECONDS) // n_interactions)
                lead = max(1, min(n_leads, (i * n_leads) // n_interactions))
                agent = rng.choice(agents)
                kind = rng.random()
                row = {"id": i, "lead_id": lead, "contact_id": lead, "event_id": f"e{i}", "text": "hello",
                       "attributes": {}, "created_at": at, "author_id": None, "direction": "inbound"}
                if kind < 0.2:
                    answered = rng.random() < 0.8
                    row.update(channel="voice", direction=rng.choice(("inbound", "outbound")), attributes={
                        "status": "ended", "outcome": "answered" if answered else "no_answer",
                        "answered_by": agent if answered else None, "talk_seconds": rng.randint(20, 600),
                        "placed_by": agent, "legs": [{"user_id": agent, "answered": answered}]})
                elif kind < 0.5:
                    row.update(channel=rng.choice(CHANNELS[:2]), direction="outbound", author_id=agent)
                else:
                    row.update(channel=rng.choice(CHANNELS))
                rows.append(row)
                if row["channel"] == "voice":      # as the store writes them with each call's record
                    facts += call_facts.rows_of(i, at, row["direction"], row["author_id"], row["attributes"])
            async with engine.begin() as conn:
                await conn.execute(insert(Interaction), rows)
                await conn.execute(insert(CallFact), facts)
        changes = []
        for day in range(365):
            for agent in agents:
                at = YEAR + timedelta(days=day, hours=6)
                for state, reason in (("available", None), ("on_call", None), ("wrap_up", None), ("available", None),
                                      ("break", "coffee"), ("available", None), ("lunch", None), ("offline", None)):
                    at += timedelta(minutes=rng.randint(10, 90))
                    changes.append({"user_id": agent, "state": state, "reason": reason, "source": "console",
                                    "started_at": at})
        async with engine.begin() as conn:
            for at in range(0, len(changes), CHUNK):
                await conn.execute(insert(AgentActivity), changes[at:at + CHUNK])
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                for table in ("teams", "users", "contacts", "leads", "interactions", "agent_activity"):
                    await conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                               f"(SELECT max(id) FROM {table}))")
            await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()


def p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


async def measure(url: str, runs: int) -> dict[str, float]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    scope = reports.ReportScope(tuple(range(1, AGENTS + 1)), *MONTH)
    report, counted = [], []
    try:
        async with sessions() as session:
            figures = await reports.manager_figures(session, scope, MONTH[1])    # warm the caches alike
            await session.scalar(select(func.count()).select_from(Interaction).where(
                Interaction.created_at >= MONTH[0], Interaction.created_at < MONTH[1]))
            for _ in range(runs):
                started = time.perf_counter()
                figures = await reports.manager_figures(session, scope, MONTH[1])
                reports.rate(figures, {"offers_accepted": 1, "leads_won": 5})
                report.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await session.scalar(select(func.count()).select_from(Interaction).where(
                    Interaction.created_at >= MONTH[0], Interaction.created_at < MONTH[1]))
                counted.append((time.perf_counter() - started) * 1000)
    finally:
        await engine.dispose()
    accepted = sum(r["offers_accepted"] for r in figures.values())
    return {"p50": p(report, 50), "p95": p(report, 95), "base_p50": p(counted, 50), "base_p95": p(counted, 95),
            "accepted": accepted, "calls": sum(r["calls_in"] + r["calls_out"] for r in figures.values())}


async def run(name: str, url: str, n_interactions: int, n_leads: int, runs: int) -> None:
    await asyncio.to_thread(upgrade, url)
    started = time.perf_counter()
    await fill(url, n_interactions, n_leads)
    filled = time.perf_counter() - started
    r = await measure(url, runs)
    print(f"{name:10} {n_interactions} interactions, {n_leads} leads (written in {filled:.0f} s); June for "
          f"{AGENTS} agents ({r['accepted']} offers accepted, {r['calls']} calls): report p50 {r['p50']:.1f} ms "
          f"p95 {r['p95']:.1f} ms | indexed count p50 {r['base_p50']:.1f} ms p95 {r['base_p95']:.1f} ms | "
          f"ratio p95 {r['p95'] / r['base_p95']:.1f}x", flush=True)
    print(f"RESULT reports_{name} p95_ms={r['p95']:.1f} floor_p95_ms={r['base_p95']:.1f} "
          f"ratio={r['p95'] / r['base_p95']:.1f} interactions={n_interactions}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="100,000 interactions, 10,000 leads, 10 runs, SQLite")
    args = parser.parse_args()
    if args.quick:
        args.interactions, args.leads, args.runs, args.engines = 100_000, 10_000, 10, "sqlite"
        print("--quick: 100,000 interactions and 10,000 leads (not a year's 1,000,000), SQLite only", flush=True)
    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in engines:
            await run("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / 'reports.db'}", args.interactions, args.leads,
                      args.runs)
        if "postgresql" in engines:
            with running_postgres() as hostport:
                host, port = hostport.split(":")
                subprocess.run(["psql", "-h", host, "-p", port, "-U", "postgres", "-qc", "CREATE DATABASE bench"],
                               check=True, capture_output=True)
                await run("postgresql", f"postgresql+asyncpg://postgres@{hostport}/bench", args.interactions,
                          args.leads, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
