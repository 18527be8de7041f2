"""Two service processes on one Redis and one PBX: each call pops once, and the survivor takes over."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer

from simulators.pbx.server import SimulatedPbx
from crm_store.types import Role
from gateway.app import create_app
from gateway.keys import AMI, VOICE
from support.gateway_app import Api, make_settings
from support.screens import screen

pytestmark = pytest.mark.redis


async def test_one_process_acts_on_the_pbx_and_another_takes_over(database_url, redis_url, tmp_path):
    prefix = f"t{uuid.uuid4().hex}:"
    async with SimulatedPbx(username="switchboard", secret="s") as pbx:
        settings = make_settings(database_url, storage={"dir": str(tmp_path / "files")},
                                 redis={"url": redis_url, "prefix": prefix},
                                 ami={"host": "127.0.0.1", "port": pbx.port, "username": "switchboard",
                                      "secret": "s", "ping_interval": 1})
        clients = [TestClient(TestServer(create_app(settings), host="127.0.0.1")) for _ in range(2)]
        try:
            for client in clients:
                await client.start_server()
            await _two_processes(pbx, clients)
        finally:
            for client in clients:
                await client.close()


async def _two_processes(pbx: SimulatedPbx, clients: list[TestClient]) -> None:
    """Both logged in to the PBX; olga's screen on the one that does not hold the lease."""
    apis = [Api(c) for c in clients]
    await apis[0].add_user("olga", Role.OPERATOR, extension="101")
    async with asyncio.timeout(10):
        while not any(c.app[VOICE].active for c in clients) or not all(c.app[AMI].logged_in.is_set() for c in clients):
            await asyncio.sleep(0.05)
    holder = next(i for i, c in enumerate(clients) if c.app[VOICE].active)
    other = 1 - holder
    assert not clients[other].app[VOICE].active
    states = [(await (await c.get("/readyz")).json())["channels"]["ami"]["state"] for c in clients]
    assert (states[holder], states[other]) == ("connected", "standby")
    async with screen(apis[other], "olga") as olga:
        await pbx.queue_call(caller="+74951230001", extensions=["101"])
        first = await olga.expect("call.ringing")
        assert await olga.quiet("call.ringing", 0.5)          # not once per process
        await clients[holder].close()                           # the holder goes away
        async with asyncio.timeout(8):
            while not clients[other].app[VOICE].active:
                await asyncio.sleep(0.05)
        await pbx.queue_call(caller="+74951230002", extensions=["101"])
        second = await olga.expect("call.ringing")
        assert second["call_id"] != first["call_id"] and second["caller"] == "+74951230002"
        assert await olga.quiet("call.ringing", 0.5)
