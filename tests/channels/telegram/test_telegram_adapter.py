"""The real python-telegram-bot against a fake Bot API on loopback: polling, webhook, files, replies."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.telegram.adapter import SECRET_HEADER, TelegramChannel, TelegramResponder, config_from_mapping
from channels.types import Accepted, Confidence, InboundContact, IntakeUnavailable, OutboundMessage
from channels.telegram.simulated_api import TOKEN, FakeBotApi, message


class Emit:
    def __init__(self) -> None:
        self.contacts: list[InboundContact] = []
        self.down = False

    async def __call__(self, contact: InboundContact) -> Accepted:
        if self.down:
            raise IntakeUnavailable("database is down")
        self.contacts.append(contact)
        return Accepted(1, 1, len(self.contacts))


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake
    await runner.cleanup()


def settings(api: FakeBotApi, **extra: object):  # type: ignore[no-untyped-def]
    return config_from_mapping({"token": TOKEN, "base_url": f"http://127.0.0.1:{api.port}/bot",
                                "base_file_url": f"http://127.0.0.1:{api.port}/file/bot", "poll_timeout": 1,
                                "max_file_bytes": 1000, **extra}, "RU")


async def until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_polling_text_contact_location_deep_link_and_edits(api):
    emit = Emit()
    channel = TelegramChannel(settings(api), emit)
    await channel.start()
    try:
        api.push({"message": message(42, "/start utm_source-ads__utm_campaign-winter", 1)})
        api.push({"message": message(42, "Нужна доставка", 2)})
        api.push({"message": message(42, None, 3, contact={"phone_number": "89123456789", "first_name": "Ирина",
                                                           "user_id": 42})})
        api.push({"message": message(42, None, 4, location={"latitude": 55.75, "longitude": 37.61})})
        api.push({"edited_message": message(42, "Нужна срочная доставка", 2, edit_date=1_800_000_100)})
        api.push({"poll": {"id": "p", "question": "?", "options": [], "total_voter_count": 0, "is_closed": False,
                           "is_anonymous": True, "type": "regular", "allows_multiple_answers": False}})
        api.push({"message": "garbage"})
        api.push({"message": message(42, "после мусора", 5)})
        await until(lambda: len(emit.contacts) == 6 and api.offsets[-1] == 9)
    finally:
        await channel.stop()
    start, text, shared, place, edit, after = emit.contacts
    assert after.text == "после мусора"
    assert start.attributes["deep_link"] == "utm_source-ads__utm_campaign-winter"
    assert start.attributes["utm_source"] == "ads" and start.attributes["utm_campaign"] == "winter"
    assert (text.channel, text.thread_ref, text.name, text.text) == ("telegram", "42", "Ирина К.", "Нужна доставка")
    assert ("phone", "+79123456789", Confidence.VERIFIED) in {(c.kind, c.value, c.confidence) for c in shared.identities}
    assert place.attributes["latitude"] == "55.75"
    assert edit.event_id.startswith("tg:edit:42:2:") and edit.text == "Нужна срочная доставка"


async def test_the_offset_moves_only_after_commit(api):
    emit = Emit()
    emit.down = True
    channel = TelegramChannel(settings(api), emit)
    await channel.start()
    try:
        update_id = api.push({"message": message(7, "hello", 1)})
        # Asked for again and again: the offset never passes the uncommitted update.
        await until(lambda: sum(o <= update_id for o in api.offsets) >= 3)
        assert emit.contacts == [] and max(api.offsets) <= update_id
        emit.down = False
        await until(lambda: len(emit.contacts) == 1 and api.offsets[-1] == 2)
    finally:
        await channel.stop()


async def test_files_are_fetched_unless_too_big(api):
    api.files["small"] = b"%PDF tiny"
    emit = Emit()
    channel = TelegramChannel(settings(api), emit)
    await channel.start()
    try:
        api.push({"message": message(9, None, 1, caption="счёт", document={
            "file_id": "small", "file_unique_id": "s", "file_name": "invoice.pdf", "mime_type": "application/pdf",
            "file_size": 9})})
        api.push({"message": message(9, None, 2, voice={"file_id": "huge", "file_unique_id": "h", "duration": 3,
                                                        "file_size": 5_000_000})})
        await until(lambda: len(emit.contacts) == 2)
    finally:
        await channel.stop()
    [pdf] = emit.contacts[0].attachments
    assert (pdf.filename, pdf.content, emit.contacts[0].text) == ("invoice.pdf", b"%PDF tiny", "счёт")
    [voice] = emit.contacts[1].attachments
    assert voice.size == 5_000_000 and voice.content == b""


async def test_webhook_checks_the_secret_and_acknowledges_after_commit(api):
    emit = Emit()
    channel = TelegramChannel(settings(api, mode="webhook", secret_token="s3cret"), emit)
    await channel.start()
    app = web.Application()
    app.add_routes(channel.routes())
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            update = {"update_id": 10, "message": message(5, "привет", 1)}
            forged = await client.post("/telegram/webhook", json=update, headers={SECRET_HEADER: "nope"})
            assert forged.status == 403
            garbage = await client.post("/telegram/webhook", data=b"{not json", headers={SECRET_HEADER: "s3cret"})
            assert garbage.status == 400
            emit.down = True
            later = await client.post("/telegram/webhook", json=update, headers={SECRET_HEADER: "s3cret"})
            assert later.status == 503
            emit.down = False
            for _ in range(2):                                     # Telegram redelivers: same event id
                ok = await client.post("/telegram/webhook", json=update, headers={SECRET_HEADER: "s3cret"})
                assert ok.status == 200
            unknown = await client.post("/telegram/webhook", headers={SECRET_HEADER: "s3cret"},
                                        data=json.dumps({"update_id": 11, "chat_member": {}}))
            assert unknown.status in (200, 400)
    finally:
        await channel.stop()
    assert [c.event_id for c in emit.contacts] == ["tg:5:1", "tg:5:1"]


async def test_replies_and_a_blocked_bot(api):
    channel = TelegramChannel(settings(api), Emit())
    await channel.start()
    try:
        responder = TelegramResponder(channel.bot)
        sent = await responder.send(OutboundMessage("telegram", 1, "m1", "42", "Здравствуйте!", thread_ref="42"))
        assert sent.ok and api.sent[0]["text"] == "Здравствуйте!" and api.sent[0]["chat_id"] == "42"
        api.blocked.add("43")
        failed = await responder.send(OutboundMessage("telegram", 2, "m2", "43", "Алло?", thread_ref="43"))
        assert not failed.ok and "blocked" in (failed.error or "")
    finally:
        await channel.stop()


def test_settings_are_checked():
    with pytest.raises(ValueError, match="secret_token"):
        config_from_mapping({"token": "t", "mode": "webhook"}, "RU")
    with pytest.raises(ValueError, match="telegram.tokn"):
        config_from_mapping({"tokn": "t"}, "RU")
