"""Reminders: delivery lag of 100,000 due tasks, and what the timer costs with 1,000,000 future tasks.

    python bench/reminders.py [--due 100000] [--spread 20] [--future 1000000] [--head-start 40]

A fresh SQLite database migrated to head, one client, one lead and one manager. Part 1: `--due` tasks
due over the next `--spread` seconds (real time) run through the real `ReminderTimer` (heap, claim by
conditional UPDATE, reminders read in batches) with a delivery that notes the lag (delivered minus due).
The floor, in the same run, is a bare asyncio timer (`loop.call_at`) firing at the same due times with no
database: what the event loop itself adds. Part 2: `--future` tasks due in the coming year; the timer's
start-up (reading its heap) and memory, against the naive design of one asyncio timer per task.
The delivery is the real one (`ReminderDelivery`: the `task.due` frame through the hub's fan-out, presence
asked, an audit entry committed per reminder); the lag is noted as each frame leaves for the screens.
Prints p50/p99 lag of each and the ratios.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from collections.abc import Mapping  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import delete, func, insert, select  # noqa: E402

from crm_store import tasks  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.models import AuditEntry, Contact, Lead, Task, User  # noqa: E402
from crm_store.session import create_engine, session_factory  # noqa: E402
from gateway.fanout import Batch, LocalFanout  # noqa: E402
from gateway.hub import Hub  # noqa: E402
from gateway.notifier import Notifier  # noqa: E402
from gateway.tasks.delivery import ReminderDelivery  # noqa: E402
from gateway.tasks.reminders import ReminderTimer  # noqa: E402
from routing.types import Agent, AgentState, Presence  # noqa: E402

CHUNK = 20000


def now() -> datetime:
    return datetime.now(UTC)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def seed(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    t = now()
    async with engine.begin() as conn:
        user = (await conn.execute(insert(User).values(username="olga", display_name="Ольга", role="manager",
                                                       password_hash="x", skills={}, capacity={}, locale="ru",
                                                       time_zone="Europe/Moscow", active=True, created_at=t)
                                   .returning(User.id))).scalar_one()
        contact = (await conn.execute(insert(Contact).values(display_name="Анна", created_at=t, updated_at=t)
                                      .returning(Contact.id))).scalar_one()
        lead = (await conn.execute(insert(Lead).values(contact_id=contact, status="assigned", channel="telegram",
                                                       source={}, attributes={}, notes="", assignee_id=user,
                                                       created_at=t, updated_at=t, last_activity_at=t)
                                   .returning(Lead.id))).scalar_one()
    await engine.dispose()
    return user, contact, lead


async def add_tasks(url: str, ids: tuple[int, int, int], dues: list[datetime]) -> float:
    user, contact, lead = ids
    engine = create_engine(url)
    started, t = time.perf_counter(), now()
    for at in range(0, len(dues), CHUNK):
        async with engine.begin() as conn:
            await conn.execute(insert(Task), [
                {"lead_id": lead, "contact_id": contact, "kind": "call", "origin": "manual", "state": "open",
                 "due_at": due, "assignee_id": user, "note": "перезвонить", "created_at": t, "updated_at": t}
                for due in dues[at:at + CHUNK]])
    await engine.dispose()
    return time.perf_counter() - started


async def floor_lag(dues: list[datetime]) -> list[float]:
    """A bare event-loop timer per due time, no database: the least lag any design can have here."""
    loop, lags, done = asyncio.get_running_loop(), [], asyncio.Event()
    offset = time.time() - loop.time()

    def fire(due: datetime) -> None:
        lags.append(time.time() - due.timestamp())
        if len(lags) == len(dues):
            done.set()
    for due in dues:
        loop.call_at(due.timestamp() - offset, fire, due)
    await done.wait()
    return lags


class ScreenLag(LocalFanout):
    """The hub's own fan-out; each `task.due` frame's lag is noted as it leaves for the screens."""

    def __init__(self, hub: Hub, expected: int) -> None:
        super().__init__(hub)
        self.lags: list[float] = []
        self.expected = expected
        self.finished = asyncio.Event()

    def _note(self, data: Mapping[str, Any]) -> None:
        self.lags.append(time.time() - datetime.fromisoformat(data["due_at"]).timestamp())
        if len(self.lags) >= self.expected:
            self.finished.set()

    async def to_users(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None:
        self._note(data)
        await super().to_users(user_ids, kind, data)

    async def to_users_each(self, frames: Batch) -> None:
        for _, _, data in frames:
            self._note(data)
        await super().to_users_each(frames)


async def timer_lag(url: str, dues: list[datetime], spread: float) -> tuple[list[float], int]:
    """The real timer and the real delivery (frame through the hub's fan-out, presence asked, audit entry
    committed); the assignee has a screen open, as a working manager does."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    hub = Hub()
    fanout = ScreenLag(hub, len(dues))

    async def at_work(user_id: int) -> AgentState:
        return AgentState(Agent(str(user_id)), presence=Presence.AVAILABLE)
    deliver = ReminderDelivery(sessions, Notifier(fanout), hub, at_work, {}, "https://crm.example", now)
    async with ReminderTimer(sessions, now, deliver, batch=1000, recheck_seconds=1.0) as timer:
        await asyncio.wait_for(fanout.finished.wait(), timeout=spread + 120)
        async with asyncio.timeout(60):             # the last burst's audit entries commit after its frames
            while timer.delivered < len(dues):
                await asyncio.sleep(0.05)
    audited = await count_audit(engine)
    await engine.dispose()
    return fanout.lags, audited


async def count_audit(engine: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(AuditEntry)
                                       .where(AuditEntry.action == "task.reminded"))).scalar_one())


async def future_cost(url: str, count: int) -> dict[str, float]:
    engine = create_engine(url)
    sessions = session_factory(engine)

    class Nothing:
        async def present(self, user_ids: set[int]) -> set[int]:
            return user_ids

        async def __call__(self, reminders: list[tasks.Reminder], present: set[int]) -> None:
            return None
    nothing = Nothing()
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    timer = ReminderTimer(sessions, now, nothing, batch=1000)
    await timer.load()
    ours_start = time.perf_counter() - started
    ours_mem = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    await engine.dispose()
    # The naive design: every future task read and given its own asyncio timer.
    engine = create_engine(url)
    sessions = session_factory(engine)
    loop = asyncio.get_running_loop()
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    async with sessions() as session:
        rows = await tasks.next_due(session, count + 10)
    offset = time.time() - loop.time()
    handles = [loop.call_at(due.timestamp() - offset, lambda: None) for _, due in rows]
    naive_start = time.perf_counter() - started
    naive_mem = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    for handle in handles:
        handle.cancel()
    await engine.dispose()
    return {"ours_start": ours_start, "ours_mem": ours_mem, "naive_start": naive_start, "naive_mem": naive_mem,
            "held": len(timer)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--spread", type=float, default=20.0)
    parser.add_argument("--future", type=int, default=1_000_000)
    parser.add_argument("--head-start", type=float, default=40.0, help="seconds to write the due tasks in")
    parser.add_argument("--quick", action="store_true", help="20,000 due over 4 s, 100,000 future (bench/all.py)")
    args = parser.parse_args()
    if args.quick:
        args.due, args.spread, args.future, args.head_start = 20_000, 4.0, 100_000, 20.0
    folder = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    upgrade(url)
    ids = asyncio.run(seed(url))
    print(f"load average {os.getloadavg()[0]:.1f}")

    async def part_one() -> tuple[list[float], list[float]]:
        start = now() + timedelta(seconds=args.head_start)     # the rows are written first, then they fall due
        dues = [start + timedelta(seconds=args.spread * i / args.due) for i in range(args.due)]
        wrote = await add_tasks(url, ids, dues)
        print(f"{args.due} due tasks written in {wrote:.1f} s")
        if now() > start:
            raise SystemExit("writing took longer than the head start; raise it or lower --due")
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        ours, audited = await timer_lag(url, dues, args.spread)
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
        # CPU (this process, every thread: the loop's and SQLite's) does not depend on the machine's load as the
        # lag does: it says how many reminders a second one free core would deliver.
        print(f"CPU for the {args.due} deliveries: {cpu:.1f} s, {cpu / args.due * 1e6:.0f} µs a reminder: "
              f"{args.due / max(cpu, 1e-9):.0f} reminders/s per free core (the bench asks {args.due / args.spread:.0f}/s)")
        print(f"delivered {len(ours)} frames, {audited} audit entries (each reminder exactly once: "
              f"{'yes' if len(ours) == audited == args.due else 'NO'})")
        floor_start = now() + timedelta(seconds=1)
        floor = await floor_lag([floor_start + timedelta(seconds=args.spread * i / args.due) for i in range(args.due)])
        return ours, floor
    ours, floor = asyncio.run(part_one())
    print(f"RESULT reminders due={args.due} p99_ms={pct(ours, 0.99) * 1000:.0f} "
          f"floor_p99_ms={pct(floor, 0.99) * 1000:.0f} ratio={pct(ours, 0.99) / max(pct(floor, 0.99), 1e-6):.1f} target_ms=1000")
    print(f"delivery lag, {args.due} reminders over {args.spread:g} s: p50 {statistics.median(ours) * 1000:.1f} ms, "
          f"p99 {pct(ours, 0.99) * 1000:.1f} ms, max {max(ours) * 1000:.1f} ms "
          f"({'under' if pct(ours, 0.99) < 1 else 'OVER'} the 1 s target)")
    print(f"floor (bare loop.call_at, no database): p50 {statistics.median(floor) * 1000:.2f} ms, "
          f"p99 {pct(floor, 0.99) * 1000:.2f} ms; p99 ratio {pct(ours, 0.99) / max(pct(floor, 0.99), 1e-6):.0f}x")

    async def part_two() -> dict[str, float]:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(delete(Task))
        await engine.dispose()
        base = now() + timedelta(days=1)
        dues = [base + timedelta(seconds=31_536_000 * i / args.future) for i in range(args.future)]
        wrote = await add_tasks(url, ids, dues)
        print(f"{args.future} future tasks written in {wrote:.1f} s")
        return await future_cost(url, args.future)
    cost = asyncio.run(part_two())
    print(f"RESULT reminders_start future={args.future} start_ms={cost['ours_start'] * 1000:.0f} "
          f"mb={cost['ours_mem'] / 1e6:.1f} floor_start_ms={cost['naive_start'] * 1000:.0f} "
          f"floor_mb={cost['naive_mem'] / 1e6:.1f}")
    print(f"timer start with {args.future} future tasks: {cost['ours_start'] * 1000:.0f} ms, "
          f"{cost['ours_mem'] / 1e6:.1f} MB ({cost['held']:.0f} held in the heap)")
    print(f"one asyncio timer per task (the floor design): {cost['naive_start'] * 1000:.0f} ms, "
          f"{cost['naive_mem'] / 1e6:.1f} MB; ratio start {cost['naive_start'] / cost['ours_start']:.0f}x, "
          f"memory {cost['naive_mem'] / max(cost['ours_mem'], 1):.0f}x")


if __name__ == "__main__":
    main()
