"""Two real `switchboard serve` processes on one PostgreSQL and one Redis: every lead assigned exactly once.

1,000 form posts land on either server; 20 agents, half connected to each server, accept every
offer they get and close the lead; routing state, offers and screens are shared through Redis.
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from crm_store.ingest import utcnow
from crm_store.models import Lead, Reservation
from crm_store.session import create_engine, session_factory
from crm_store.types import Role
from crm_store.users import NewUser, create_user
from support.deploy import switchboard_config
from support.postgres_server import free_port
from support.processes import start_server, wait_ready

# Each runs two servers (and Redis) under load: one at a time, on one parallel worker, or they starve each other.
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.long, pytest.mark.xdist_group("servers")]

LEADS = 1000
AGENTS = 20
STALL_SECONDS = 120     # fail when no lead has been assigned for this long, however slow the machine is
PASSWORD = "agent password"
# docker-compose.yml's settings (deploy/switchboard.toml), plus a form without a rate limit.
LOAD_FORM = """
[forms.load]
rate_per_minute = 10000000
burst = 100000
"""



async def start_ready_server(env: dict[str, str], config: Path) -> tuple[int, subprocess.Popen[bytes]]:
    """A server on a free port; another port if a parallel test took that one between the check and the bind."""
    for attempt in range(3):
        port = free_port()
        # Its log goes to a file: a pipe nobody reads fills (64 KB of warnings and tracebacks on a busy machine)
        # and the server then blocks in its next log write, which stalls the test like a lost assignment.
        with (config.parent / f"server-{port}.log").open("ab") as log:
            server = start_server(port, env, config, stderr=log)
        try:
            await wait_ready(port, server, path="/readyz")
            return port, server
        except RuntimeError:
            server.terminate()
            server.wait(timeout=30)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def agent(http: aiohttp.ClientSession, port: int, name: str, assigned: collections.Counter[int],
                done: asyncio.Event, available: asyncio.Semaphore) -> None:
    """Accept every offer, close every lead: as fast as a screen can."""
    base = f"http://127.0.0.1:{port}"
    async with http.post(f"{base}/api/v1/auth/login", json={"username": name, "password": PASSWORD}) as r:
        token = (await r.json())["token"]
    headers = {"Authorization": f"Bearer {token}"}

    async def close(lead_id: int) -> None:
        async with http.patch(f"{base}/api/v1/leads/{lead_id}", headers=headers, json={"status": "won"}) as r:
            assert r.status == 200, await r.text()

    # The closes run beside the socket's reading, as a browser's fetch does: awaited in line, a close slowed down
    # by a busy machine kept the socket unread past the server's heartbeat, which then closed it.
    closing: list[asyncio.Task[None]] = []
    async with http.ws_connect(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
        await ws.send_json({"type": "presence.set", "data": {"presence": "available"}})
        available.release()
        while not done.is_set():
            try:
                message = await ws.receive(timeout=0.5)
            except TimeoutError:
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            if frame["type"] == "offer.created":
                await ws.send_json({"type": "offer.accept", "data": {"offer_id": frame["data"]["offer_id"]}})
            elif frame["type"] == "lead.assigned":
                lead_id = frame["data"]["lead_id"]
                assigned[lead_id] += 1
                closing.append(asyncio.create_task(close(lead_id)))
                if sum(assigned.values()) >= LEADS:
                    done.set()
    await asyncio.gather(*closing)


async def until_done(done: asyncio.Event, agents: list[asyncio.Task[None]],
                     assigned: collections.Counter[int]) -> None:
    """Wait for every lead while assignments keep coming; an agent's failure or a stall ends it at once."""
    finished = asyncio.ensure_future(done.wait())
    progress, stalled = -1, 0.0
    try:
        for _ in range(LEADS * 10):     # bounded: each round either sees progress or counts towards the stall
            await asyncio.wait([finished, *agents], timeout=5, return_when=asyncio.FIRST_COMPLETED)
            if finished.done():
                return
            for task in agents:
                if task.done():
                    task.result()       # raises what the agent hit
                    raise AssertionError("an agent stopped before every lead was assigned")
            now = sum(assigned.values())
            stalled = 0.0 if now != progress else stalled + 5
            progress = now
            assert stalled < STALL_SECONDS, f"no assignment for {STALL_SECONDS} s, at {progress} of {LEADS}"
        raise AssertionError(f"not done after {LEADS * 10} rounds, at {progress} of {LEADS}")
    finally:
        finished.cancel()


async def test_two_processes_assign_each_of_1000_leads_exactly_once(postgres_database, redis_url, tmp_path):
    engine = create_engine(postgres_database)
    async with session_factory(engine)() as session, session.begin():
        for i in range(AGENTS):
            await create_user(session, NewUser(f"agent{i}", PASSWORD, Role.MANAGER,
                                               capacity={"email": 2}), utcnow())
    config = tmp_path / "switchboard.toml"
    config.write_text(switchboard_config().read_text() + LOAD_FORM)
    env = {**os.environ, "SWITCHBOARD_DATABASE__URL": postgres_database, "SWITCHBOARD_REDIS__URL": redis_url,
           "SWITCHBOARD_LOG_LEVEL": "WARNING",     # what a failure needs, in server-PORT.log
           "SWITCHBOARD_REDIS__PREFIX": f"two{os.getpid()}:"}
    ports: list[int] = []
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(2):
            port, server = await start_ready_server(env, config)
            ports.append(port)
            servers.append(server)
        async with aiohttp.ClientSession() as http:
            assigned: collections.Counter[int] = collections.Counter()
            done = asyncio.Event()
            available = asyncio.Semaphore(0)
            agents = [asyncio.create_task(agent(http, ports[i % 2], f"agent{i}", assigned, done, available))
                      for i in range(AGENTS)]
            async with asyncio.timeout(STALL_SECONDS):      # every screen signed in and said "available"
                for _ in range(AGENTS):
                    await available.acquire()

            async def post(i: int) -> None:
                async with http.post(f"http://127.0.0.1:{ports[i % 2]}/forms/load",
                                     data={"phone": f"+7912{i:07d}", "submission_id": f"s{i}"}) as r:
                    assert r.status == 201, await r.text()

            for start in range(0, LEADS, 50):
                await asyncio.gather(*(post(i) for i in range(start, min(start + 50, LEADS))))
            await until_done(done, agents, assigned)
            await asyncio.gather(*agents)
        assert len(assigned) == LEADS and set(assigned.values()) == {1}
        async with session_factory(engine)() as session:
            accepted = collections.Counter(
                (await session.execute(select(Reservation.task_id).where(Reservation.outcome == "accepted"))).scalars())
            won = await session.scalar(select(func.count()).where(Lead.status == "won"))
        assert len(accepted) == LEADS and set(accepted.values()) == {1}
        assert won == LEADS
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
        await engine.dispose()
