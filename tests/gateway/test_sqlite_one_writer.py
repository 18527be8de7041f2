"""On SQLite every write of the process queues on one writer: posts, accepts, closes and sign-ins running at
once never meet "database is locked" (which answered 500 under load before), and every lead is routed once."""
from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

import pytest
from sqlalchemy import func, select

from crm_store.models import Lead, Reservation
from crm_store.types import Role
from gateway.keys import SESSIONS
from support.screens import Screen, screen

AGENTS = 4
LEADS = 40
SIGN_INS = 20


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    # Offers wait for their operator however slow the machine's disk is today: this is not about timeouts.
    return {"forms": {"load": {"rate_per_minute": 1000000, "burst": 100000}},
            "routing": {"queues": {"default": {"offer_timeout": 600}}}}


async def work_the_screen(api, s: Screen, headers: dict[str, str], statuses: list[int],  # type: ignore[no-untyped-def]
                          assigned: collections.Counter[int], errors: list[dict[str, Any]]) -> None:
    """Accept every offer at once and close every lead assigned, as fast as the frames come."""
    closing: set[asyncio.Task[None]] = set()

    async def close(lead_id: int) -> None:
        response = await api.client.patch(f"/api/v1/leads/{lead_id}", json={"status": "won"}, headers=headers)
        statuses.append(response.status)

    while True:
        frame = await s.frames.get()
        if frame["type"] == "offer.created":
            await s.send("offer.accept", offer_id=frame["data"]["offer_id"])
        elif frame["type"] == "lead.assigned":
            assigned[frame["data"]["lead_id"]] += 1
            task = asyncio.create_task(close(frame["data"]["lead_id"]))
            closing.add(task)
            task.add_done_callback(closing.discard)
        elif frame["type"] == "error":
            errors.append(frame["data"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_posts_accepts_closes_and_sign_ins_at_once_never_answer_5xx(api):
    for i in range(AGENTS):
        await api.add_user(f"agent{i}", Role.OPERATOR, capacity={"email": 50})
    statuses: list[int] = []
    assigned: collections.Counter[int] = collections.Counter()
    errors: list[dict[str, Any]] = []
    leads: set[int] = set()

    async def post(i: int) -> None:
        response = await api.client.post("/forms/load", data={
            "name": f"Client {i}", "phone": f"+7912{i:07d}", "email": f"client{i}@example.org", "message": "hello"})
        statuses.append(response.status)
        if response.status == 201:
            leads.add((await response.json())["lead_id"])

    async def sign_in(i: int) -> None:
        response = await api.client.post("/api/v1/auth/login",
                                         json={"username": f"agent{i % AGENTS}", "password": "correct horse battery"})
        statuses.append(response.status)

    async def limited(jobs: list[Any], at_once: int) -> None:
        gate = asyncio.Semaphore(at_once)

        async def one(job: Any) -> None:
            async with gate:
                await job

        await asyncio.gather(*(one(job) for job in jobs))

    async with contextlib.AsyncExitStack() as stack:
        screens = [(await stack.enter_async_context(screen(api, f"agent{i}")), await api.login(f"agent{i}"))
                   for i in range(AGENTS)]
        workers = [asyncio.create_task(work_the_screen(api, s, headers, statuses, assigned, errors))
                   for s, headers in screens]
        try:
            async with asyncio.timeout(240):        # a bound for a loaded machine, not a measurement
                await asyncio.gather(limited([post(i) for i in range(LEADS)], 16),
                                     limited([sign_in(i) for i in range(SIGN_INS)], 4))
                while len(leads) < LEADS or set(assigned) != leads or len(statuses) < LEADS + SIGN_INS + LEADS:
                    await asyncio.sleep(0.05)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    counts = collections.Counter(statuses)
    assert not [s for s in statuses if s >= 500], counts
    assert counts == {201: LEADS, 200: SIGN_INS + LEADS}, counts
    assert not errors
    assert all(n == 1 for n in assigned.values())
    async with api.client.app[SESSIONS]() as session:
        won = await session.scalar(select(func.count()).where(Lead.status == "won", Lead.assignee_id.is_not(None)))
        accepted = await session.scalar(select(func.count()).where(Reservation.outcome == "accepted"))
    assert won == LEADS and accepted == LEADS
