"""Telegram end to end through the gateway: a chat is a lead's thread, replies go back, failures show."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from crm_store.types import Role
from simulators.telegram_api import TOKEN, FakeBotApi, message, running_bot_api


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    async with running_bot_api() as fake:
        yield fake


@pytest.fixture
def settings_overrides(bot_api: FakeBotApi) -> dict[str, Any]:
    return {"telegram": {"token": TOKEN, "base_url": f"http://127.0.0.1:{bot_api.port}/bot",
                         "base_file_url": f"http://127.0.0.1:{bot_api.port}/file/bot", "poll_timeout": 1}}


async def test_a_chat_is_one_lead_replies_go_back_and_a_blocked_bot_shows(api, bot_api):
    olga = await api.add_user("olga", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")

    async def leads() -> list[dict[str, Any]]:
        return (await (await api.client.get("/api/v1/leads?channel=telegram", headers=boss)).json())["items"]

    bot_api.push({"message": message(42, "/start utm_source-vk", 1)})
    bot_api.push({"message": message(42, "Сколько стоит доставка?", 2)})
    async with asyncio.timeout(60):
        while not (found := await leads()) or len(
                (card := await (await api.client.get(f"/api/v1/leads/{found[0]['id']}", headers=boss)).json())
                ["timeline"]) < 2:
            await asyncio.sleep(0.05)
    [lead] = found
    assert card["lead"]["source"]["utm_source"] == "vk" and card["lead"]["source"]["deep_link"] == "utm_source-vk"

    await api.client.patch(f"/api/v1/leads/{lead['id']}", json={"assignee_id": olga}, headers=boss)
    olga_headers = await api.login("olga")
    token = olga_headers["Authorization"].split()[1]
    async with connect(f"ws://127.0.0.1:{api.client.port}/ws?token={token}") as ws:
        bot_api.push({"message": message(42, "Алло?", 3)})          # the assignee sees it live
        async with asyncio.timeout(60):
            while (frame := json.loads(await ws.recv()))["type"] != "message.received":
                pass
    assert frame["data"]["lead_id"] == lead["id"] and frame["data"]["text"] == "Алло?"

    sent = await api.client.post(f"/api/v1/leads/{lead['id']}/reply", json={"text": "500 рублей"},
                                 headers=olga_headers)
    assert sent.status == 201 and bot_api.sent[-1] == {"chat_id": "42", "text": "500 рублей"}
    bot_api.blocked.add("42")
    blocked = await api.client.post(f"/api/v1/leads/{lead['id']}/reply", json={"text": "Вы тут?"},
                                    headers=olga_headers)
    assert blocked.status == 502 and "blocked" in (await blocked.json())["error"]["message"]
    assert len(await leads()) == 1



async def test_a_new_chat_sharing_a_known_phone_joins_that_client(api, bot_api):
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    posted = await api.client.post("/forms/default", data={"name": "Ирина", "phone": "8 912 345 67 89"})
    form_lead = await posted.json()
    bot_api.push({"message": message(77, None, 1, contact={"phone_number": "+79123456789", "first_name": "Ирина",
                                                          "user_id": 77})})
    async with asyncio.timeout(60):
        while True:   # SQLite reads outside one snapshot: wait until both the message and identity show
            card = await (await api.client.get(f"/api/v1/leads/{form_lead['lead_id']}", headers=boss)).json()
            kinds = {(i["kind"], i["value"]) for i in card["contact"]["identities"]}
            if len(card["timeline"]) >= 2 and ("telegram", "77") in kinds:
                break
            await asyncio.sleep(0.05)
    assert {("phone", "+79123456789"), ("telegram", "77")} <= kinds
    assert [t["channel"] for t in card["timeline"]] == ["form", "telegram"]
