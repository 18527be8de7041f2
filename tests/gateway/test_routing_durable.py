"""Waiting work survives a restart: routing is rebuilt from the store, in the same order."""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from aiohttp.test_utils import TestClient, TestServer
from websockets.asyncio.client import connect

from support.gateway_app import Api, make_settings
from crm_store import routing_log
from crm_store.types import Role
from gateway.routing import driver
from gateway.app import create_app


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def shared_state(request: pytest.FixtureRequest) -> dict[str, Any]:
    """In-process state is rebuilt from the store; Redis still holds it, and nothing doubles."""
    if request.param == "memory":
        return {}
    return {"redis": {"url": request.getfixturevalue("redis_url"), "prefix": f"d{uuid.uuid4().hex}:"}}


async def offered_to_olga(client: TestClient, count: int) -> list[int]:
    """The leads of the first `count` offers olga's screen gets once she is available."""
    token = (await Api(client).login("olga"))["Authorization"].split()[1]
    async with connect(f"ws://127.0.0.1:{client.port}/ws?token={token}") as ws:
        await ws.send(json.dumps({"type": "presence.set", "data": {"presence": "available"}}))
        offers: list[int] = []
        async with asyncio.timeout(60):
            while len(offers) < count:
                frame = json.loads(await ws.recv())
                if frame["type"] == "offer.created":
                    offers.append(frame["data"]["lead_id"])
    return offers


async def test_pending_tasks_are_offered_after_a_restart_oldest_first(database_url, shared_state, tmp_path):
    settings = make_settings(database_url, forms={"busy": {"rate_per_minute": 10000, "burst": 100}},
                             storage={"dir": str(tmp_path)}, **shared_state)
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        api = Api(client)
        await api.add_user("olga", Role.MANAGER)
        first = await (await client.post("/forms/busy", data={"phone": "+79123456789"})).json()
        second = await (await client.post("/forms/busy", data={"phone": "+79123450000"})).json()
    # A new process, same database: nobody was available, so both leads still wait.
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        offers = await offered_to_olga(client, 2)
    assert offers == [first["lead_id"], second["lead_id"]]


async def test_a_restart_reads_its_waiting_tasks_back_a_chunk_at_a_time_and_restores_them_all_in_order(
        database_url, tmp_path, monkeypatch):
    settings = make_settings(database_url, forms={"busy": {"rate_per_minute": 10000, "burst": 100}},
                             storage={"dir": str(tmp_path)})
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        api = Api(client)
        await api.add_user("olga", Role.MANAGER)
        leads = [(await (await client.post("/forms/busy", data={"phone": f"+7912345670{i}"})).json())["lead_id"]
                 for i in range(5)]
    reads: list[int] = []
    task_rows = routing_log.task_rows

    async def counted(session: Any, task_ids: Any) -> Any:
        reads.append(len(task_ids))
        return await task_rows(session, task_ids)
    monkeypatch.setattr(driver, "RESTORE_CHUNK", 2)
    monkeypatch.setattr(routing_log, "task_rows", counted)
    monkeypatch.setattr(routing_log, "task_row", None)      # one read per task is what this replaced
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        offers = await offered_to_olga(client, 5)
    assert reads == [2, 2, 1] and offers == leads
