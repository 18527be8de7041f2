"""Telegram in webhook mode: the secret header, 200 only after commit, 503 to make Telegram retry."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.telegram.adapter import SECRET_HEADER, TelegramChannel
from simulators.telegram_api import FakeBotApi, message
from telegram_fakes import RecordingEmit, telegram_settings

SECRET = {SECRET_HEADER: "s3cret"}
CHAT_MEMBER = {"chat": {"id": -100, "type": "supergroup", "title": "Shop"}, "date": 1_800_000_000,
               "from": {"id": 1, "is_bot": False, "first_name": "Admin"},
               "old_chat_member": {"status": "left", "user": {"id": 5, "is_bot": False, "first_name": "N"}},
               "new_chat_member": {"status": "member", "user": {"id": 5, "is_bot": False, "first_name": "N"}}}


async def webhook_client(bot_api: FakeBotApi, emit: RecordingEmit,
                         **extra: object) -> AsyncIterator[tuple[TestClient, TelegramChannel]]:
    channel = TelegramChannel(telegram_settings(bot_api, mode="webhook", secret_token="s3cret", **extra), emit)
    await channel.start()
    app = web.Application()
    channel.add_routes(app)
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield client, channel
    finally:
        await channel.stop()


@pytest.fixture
async def hook(bot_api: FakeBotApi) -> AsyncIterator[tuple[TestClient, RecordingEmit, FakeBotApi]]:
    emit = RecordingEmit()
    async for client, _ in webhook_client(bot_api, emit):
        yield client, emit, bot_api


async def test_secret_malformed_outage_and_redelivery(hook):
    client, emit, bot_api = hook
    update = {"update_id": 10, "message": message(5, "привет", 1)}
    assert (await client.post("/telegram/webhook", json=update, headers={SECRET_HEADER: "nope"})).status == 403
    assert (await client.post("/telegram/webhook", json=update)).status == 403
    assert (await client.post("/telegram/webhook", data=b"{not json", headers=SECRET)).status == 400
    assert (await client.post("/telegram/webhook", json=[1, 2], headers=SECRET)).status == 400
    assert (await client.post("/telegram/webhook", data=b"x" * (1024 * 1024 + 1), headers=SECRET)).status == 413
    emit.down = True
    assert (await client.post("/telegram/webhook", json=update, headers=SECRET)).status == 503
    emit.down = False
    for _ in range(2):                                             # Telegram redelivers: the same event id
        assert (await client.post("/telegram/webhook", json=update, headers=SECRET)).status == 200
    assert emit.events() == ["tg:5:1", "tg:5:1"]
    assert bot_api.offsets == []                                   # no polling in webhook mode


async def test_unknown_and_unreadable_updates_are_acknowledged(hook):
    client, emit, _ = hook
    for update in ({"update_id": 11, "chat_member": CHAT_MEMBER},
                   {"update_id": 12, "message": "not a message"},
                   {"update_id": 13, "some_future_kind": {"x": 1}}):
        response = await client.post("/telegram/webhook", data=json.dumps(update), headers=SECRET)
        assert response.status == 200, update
    assert emit.contacts == []


async def test_the_secret_path_and_set_webhook(bot_api):
    emit = RecordingEmit()
    url = "https://switchboard.example/telegram/webhook/k9Xq"
    async for client, _ in webhook_client(bot_api, emit, secret_path="k9Xq", webhook_url=url):
        update = {"update_id": 20, "message": message(6, "hi", 1)}
        assert (await client.post("/telegram/webhook/k9Xq", json=update, headers=SECRET)).status == 200
        assert (await client.post("/telegram/webhook/guess", json=update, headers=SECRET)).status == 404
        assert (await client.post("/telegram/webhook", json=update, headers=SECRET)).status == 404
    assert emit.events() == ["tg:6:1"]
    assert bot_api.webhook["url"] == url and bot_api.webhook["secret_token"] == "s3cret"
    assert json.loads(bot_api.webhook["allowed_updates"]) == ["message", "edited_message"]


async def test_a_pipeline_error_is_a_500_not_a_crash(hook):
    client, emit, _ = hook
    emit.refuse = {"tg:8:1"}
    update = {"update_id": 30, "message": message(8, "boom", 1)}
    assert (await client.post("/telegram/webhook", json=update, headers=SECRET)).status == 500
    update = {"update_id": 31, "message": message(8, "next", 2)}
    assert (await client.post("/telegram/webhook", json=update, headers=SECRET)).status == 200
    assert emit.events() == ["tg:8:2"]
