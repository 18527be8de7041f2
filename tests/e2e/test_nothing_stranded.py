"""Two `switchboard serve` processes on PostgreSQL + Redis: one is killed mid-stream, Redis goes down and
comes back (with its data, or empty), and still every acknowledged lead is offered and assigned.

Forms are posted to both processes; a post the killed process did not answer is retried on the other
(a duplicate there, so only the sweeper can route it). Agents sit on the surviving process, accept
every offer and close every lead (closing must succeed while Redis is down, too).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_store.ingest import utcnow
from crm_store.models import Lead, Reservation, RoutingTask
from crm_store.routing_log import OPEN_TASK_STATES
from crm_store.session import create_engine, session_factory
from crm_store.types import Role
from crm_store.users import NewUser, create_user
from support.deploy import switchboard_config
from support.postgres_server import free_port
from support.processes import start_server, wait_ready
from support.redis_server import _ping

# Each runs two servers (and Redis) under load: one at a time, on one parallel worker, or they starve each other.
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.long, pytest.mark.xdist_group("servers")]

AGENTS = 4
# Every wait's bound: a few seconds on a quiet machine, far longer beside parallel workers on a busy one.
BOUND = 300.0
PASSWORD = "agent password"
CONFIG = """
[forms.load]
rate_per_minute = 10000000
burst = 100000
"""



class RedisProcess:
    """A redis-server that writes every change to its append-only file, so a restart may keep its data."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.workdir.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(3000):
            # Its own process answering, not another parallel worker's server that took the port meanwhile.
            if await asyncio.to_thread(_ping, self.port, self.proc.pid):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode} (port {self.port} taken?)")
            await asyncio.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def kill(self, *, keep_data: bool) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
        if not keep_data:
            shutil.rmtree(self.workdir)


def start_logged_server(port: int, env: dict[str, str], config: Path) -> subprocess.Popen[bytes]:
    """A server whose log is kept beside its config: the test reads which repairs it logged."""
    with (config.parent / f"server-{port}.log").open("ab") as log:
        return start_server(port, env, config, stderr=log)


async def agent(http: aiohttp.ClientSession, base: str, name: str, assigned: collections.Counter[int],
                closes: list[int], ready: asyncio.Queue[str], done: asyncio.Event) -> None:
    """Accept every offer, close every lead, press Available after a missed-offers break; like the
    console, connect again when the socket closes (a loaded machine misses heartbeats)."""
    async with http.post(f"{base}/api/v1/auth/login", json={"username": name, "password": PASSWORD}) as r:
        token = (await r.json())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(100):
        if done.is_set():
            return
        with contextlib.suppress(aiohttp.ClientError):
            async with http.ws_connect(f"{base}/ws?token={token}") as ws:
                await ws.send_json({"type": "presence.set", "data": {"presence": "available"}})
                await serve_screen(http, base, headers, ws, name, assigned, closes, ready, done)
        await asyncio.sleep(0.2)


async def serve_screen(http: aiohttp.ClientSession, base: str, headers: dict[str, str],
                       ws: aiohttp.ClientWebSocketResponse, name: str, assigned: collections.Counter[int],
                       closes: list[int], ready: asyncio.Queue[str], done: asyncio.Event) -> None:
    while not done.is_set():
        try:
            message = await ws.receive(timeout=0.5)
        except TimeoutError:
            continue
        if message.type != aiohttp.WSMsgType.TEXT:
            return
        frame = json.loads(message.data)
        if frame["type"] == "presence.set.ok":
            ready.put_nowait(name)
        elif frame["type"] == "offer.created":
            await ws.send_json({"type": "offer.accept", "data": {"offer_id": frame["data"]["offer_id"]}})
        elif frame["type"] == "presence.changed" and frame["data"]["reason"] == "missed_offers":
            # Offers whose frames were lost while Redis was down timed out: the operator comes back.
            await ws.send_json({"type": "presence.set", "data": {"presence": "available"}})
        elif frame["type"] == "lead.assigned":
            lead_id = frame["data"]["lead_id"]
            assigned[lead_id] += 1          # a reconnect replays work still held: closed once
            if assigned[lead_id] == 1:
                async with http.patch(f"{base}/api/v1/leads/{lead_id}", headers=headers,
                                      json={"status": "won"}) as r:
                    closes.append(r.status)


async def explain(engine: AsyncEngine, redis: RedisProcess, lead_ids: set[int]) -> dict[object, object]:
    """What the database and Redis say about leads never assigned: the failure message of a bad run."""
    out: dict[object, object] = {}
    client = Redis.from_url(redis.url, decode_responses=True)
    async with session_factory(engine)() as session:
        for lead_id in sorted(lead_ids):
            lead = await session.get(Lead, lead_id)
            tasks = list(await session.scalars(select(RoutingTask).where(RoutingTask.lead_id == lead_id)))
            info = []
            for t in tasks:
                offers = [(r.agent_id, r.outcome, r.created_at.time()) for r in await session.scalars(
                    select(Reservation).where(Reservation.task_id == t.id).order_by(Reservation.created_at))]
                info.append((t.id, t.state, t.assignee_id, offers, await client.get(f"stranded:routing:t:{t.id}")))
            out[lead_id] = (lead.assignee_id, lead.status, info)
    out["agents"] = [await client.get(f"stranded:routing:a:{i}") for i in range(1, AGENTS + 1)]
    await client.aclose()
    return out


# A failure message dumps the database's and Redis' view of each lead never assigned.
@pytest.mark.parametrize("keep_data", [True, False], ids=["redis-keeps-data", "redis-restarted-empty"])
async def test_every_acknowledged_lead_is_offered_whatever_fails(postgres_database, tmp_path, keep_data):
    engine = create_engine(postgres_database)
    async with session_factory(engine)() as session, session.begin():
        for i in range(AGENTS):
            await create_user(session, NewUser(f"agent{i}", PASSWORD, Role.MANAGER, capacity={"email": 1000}),
                              utcnow())
    redis = RedisProcess(tmp_path / "redis")
    await redis.start()
    config = tmp_path / "switchboard.toml"
    config.write_text(switchboard_config().read_text() + CONFIG)
    env = {**os.environ, "SWITCHBOARD_DATABASE__URL": postgres_database, "SWITCHBOARD_REDIS__URL": redis.url,
           "SWITCHBOARD_LOG_LEVEL": "WARNING", "SWITCHBOARD_REDIS__PREFIX": "stranded:"}
    ports = [free_port(), free_port()]
    servers = [start_logged_server(port, env, config) for port in ports]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    leads: set[int] = set()
    lead_of: dict[int, int] = {}      # submission -> lead
    assigned: collections.Counter[int] = collections.Counter()
    closes: list[int] = []
    done = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as http:
            for port, server in zip(ports, servers, strict=True):
                await wait_ready(port, server, path="/readyz")
            ready: asyncio.Queue[str] = asyncio.Queue()
            agents = [asyncio.create_task(agent(http, bases[1], f"agent{i}", assigned, closes, ready, done))
                      for i in range(AGENTS)]
            async with asyncio.timeout(BOUND):
                for _ in range(AGENTS):
                    await ready.get()

            async def post(i: int, to: int) -> None:
                """Post until acknowledged; a process that does not answer is replaced by the other."""
                data = {"phone": f"+7912{i:07d}", "submission_id": f"s{i}"}
                for attempt in range(int(BOUND / 0.2)):
                    with contextlib.suppress(aiohttp.ClientError):
                        base = bases[to] if attempt == 0 else bases[1]
                        async with http.post(f"{base}/forms/load", data=data) as r:
                            if r.status == 201:
                                lead_of[i] = (await r.json())["lead_id"]
                                leads.add(lead_of[i])
                                return
                    await asyncio.sleep(0.2)
                raise AssertionError(f"submission {i} never acknowledged")

            # Both processes take posts; one is killed while posts are in flight.
            batch = [asyncio.create_task(post(i, i % 2)) for i in range(60)]
            await asyncio.sleep(0.05)
            servers[0].send_signal(signal.SIGKILL)
            await asyncio.gather(*batch)
            # Redis goes away: forms are still acknowledged, leads still close.
            redis.kill(keep_data=keep_data)
            await asyncio.gather(*(post(i, 1) for i in range(60, 90)))
            await redis.start()
            servers[0].wait(timeout=30)
            servers[0] = start_logged_server(ports[0], env, config)
            await wait_ready(ports[0], servers[0], path="/readyz")
            await asyncio.gather(*(post(i, i % 2) for i in range(90, 120)))

            for _ in range(int(BOUND / 0.2)):       # the sweeper runs every 2 s; offers time out after 10 s
                if leads <= set(assigned):
                    break
                await asyncio.sleep(0.2)
            if not leads <= set(assigned):
                agents_now = [a.exception() if a.done() else "running" for a in agents]
                raise AssertionError(f"never assigned: {await explain(engine, redis, leads - set(assigned))}, "
                                     f"agents: {agents_now}")
            # Closes made while Redis was down freed nobody's capacity there: the sweepers let those go.
            client = Redis.from_url(redis.url, decode_responses=True)
            for _ in range(int(BOUND / 0.2)):
                held = await client.scard("stranded:routing:open")
                loads = [json.loads(a)["load"] for a in await client.mget(
                    [f"stranded:routing:a:{i}" for i in range(1, AGENTS + 1)]) if a]
                if not held and len(closes) == len(leads) and all(not any(load.values()) for load in loads):
                    break
                await asyncio.sleep(0.2)
            await client.aclose()
            done.set()
            await asyncio.gather(*agents)
        assert len(leads) == 120
        assert set(closes) == {200}
        assert held == 0, "Redis still holds tasks the database finished"
        assert all(not any(load.values()) for load in loads), f"capacity never given back: {loads}"
        async with session_factory(engine)() as session:
            accepted = collections.Counter((await session.execute(
                select(Reservation.task_id).where(Reservation.outcome == "accepted"))).scalars())
            unassigned = await session.scalar(select(func.count()).where(Lead.assignee_id.is_(None)))
            unfinished = await session.scalar(select(func.count()).where(RoutingTask.state.in_(OPEN_TASK_STATES)))
            twice = {t: [(r.agent_id, r.outcome, r.created_at.time()) for r in await session.scalars(
                select(Reservation).where(Reservation.task_id == t).order_by(Reservation.created_at))]
                for t, n in accepted.items() if n > 1}
        assert not twice, f"accepted more than once: {twice}"
        assert unassigned == 0
        assert unfinished == 0
    finally:
        done.set()
        for server in servers:
            if server.poll() is None:
                server.terminate()
        for server in servers:
            server.wait(timeout=30)
        if redis.proc is not None and redis.proc.poll() is None:
            redis.kill(keep_data=True)
        await engine.dispose()
