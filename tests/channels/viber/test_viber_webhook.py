"""Viber webhook set-up, signed callbacks and replies against a local fake of the Viber REST API."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.plug import BuildContext
from channels.types import Confidence, OutboundMessage
from channels.section import read_section
from channels.viber.adapter import ViberChannel, ViberResponder, build
from channels.viber.config import ViberConfig
from viber_fakes import TOKEN, USER, RecordingEmit, ViberApi, message, signed


def config_of(table, region):
    return read_section(ViberConfig, table, "viber").in_region(region)


@pytest.fixture
async def viber_api() -> AsyncIterator[tuple[ViberApi, TestServer]]:
    api = ViberApi()
    server = TestServer(api.app(), host="127.0.0.1")
    await server.start_server()
    yield api, server
    await server.close()


def settings(server: TestServer, **extra: Any):  # type: ignore[no-untyped-def]
    return config_of({"auth_token": TOKEN, "base_url": f"http://127.0.0.1:{server.port}",
                                "max_file_bytes": 1000, **extra}, "UA")


@pytest.fixture
async def setup(viber_api) -> AsyncIterator[tuple[TestClient, RecordingEmit, ViberApi, ViberChannel]]:
    api, server = viber_api
    emit = RecordingEmit()
    channel = ViberChannel(settings(server), emit)
    await channel.start()
    app = web.Application()
    channel.add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, emit, api, channel
    await channel.stop()


async def post(client: TestClient, event: dict[str, Any]) -> int:
    body, headers = signed(event)
    return (await client.post("/viber/webhook", data=body, headers=headers)).status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_webhook_is_registered_once_our_server_listens(viber_api):
    api, server = viber_api
    port = free_port()
    channel = ViberChannel(settings(server, webhook_url=f"http://127.0.0.1:{port}/viber/webhook"), RecordingEmit())
    channel.retry_delay = 0.05
    app = web.Application()
    channel.add_routes(app)

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:   # as gateway runs it: in cleanup_ctx
        await channel.start()
        yield
        await channel.stop()

    app.cleanup_ctx.append(lifecycle)
    runner = web.AppRunner(app)
    await runner.setup()                                 # start() has run; nothing listens yet
    try:
        async with asyncio.timeout(60):     # the registration tried while nothing listened, and was refused
            while not api.checks:
                await asyncio.sleep(0.02)
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        await asyncio.wait_for(channel.webhook_ready.wait(), 60)
    finally:
        await runner.cleanup()
    assert api.checks[0] == 0 and api.checks[-1] == 200          # refused while down, then checked and set
    method, body = api.calls[-1]
    assert method == "set_webhook" and body["url"] == f"http://127.0.0.1:{port}/viber/webhook"
    assert "conversation_started" in body["event_types"] and body["send_name"] is True


async def test_a_refused_token_stops_the_registration(viber_api, caplog):
    api, server = viber_api
    channel = ViberChannel(config_of({"auth_token": "wrong", "base_url": f"http://127.0.0.1:{server.port}",
                                                "webhook_url": "http://127.0.0.1:9/viber/webhook"}, "UA"),
                           RecordingEmit())
    channel.retry_delay = 0.01
    await channel.start()
    try:
        await asyncio.wait_for(asyncio.shield(channel._registration), 5)  # type: ignore[arg-type]
    finally:
        await channel.stop()
    assert not channel.webhook_ready.is_set() and "refused for good: invalidAuthToken" in caplog.text


async def test_text_picture_file_and_contact_messages(setup):
    client, emit, _, channel = setup
    base = channel._config.base_url
    for event in (message(1, type="text", text="Добрий день", tracking_data="lead-7"),
                  message(2, type="picture", text="", media=f"{base}/media/photo.jpg", thumbnail="x", size=4),
                  message(3, type="contact", contact={"name": "Олег", "phone_number": "+380 50 123 4567"}),
                  message(4, type="file", media=f"{base}/media/big.pdf", size=5000, file_name="big.pdf"),
                  message(5, type="file", media=f"{base}/media/price.xlsx", size=4, file_name="../price.xlsx"),
                  message(6, type="location", location={"lat": 50.45, "lon": 30.52})):
        assert await post(client, event) == 200
    text, picture, shared, big, sheet, place = emit.contacts
    assert (text.channel, text.event_id, text.source_id, text.thread_ref, text.name) == (
        "viber", "viber:1", USER, USER, "Олег")
    assert text.attributes["tracking_data"] == "lead-7" and text.received_at.timestamp() == 1457764197.627
    assert ("viber", USER, Confidence.VERIFIED) in {(c.kind, c.value, c.confidence) for c in text.identities}
    [jpeg] = picture.attachments
    assert (jpeg.content, jpeg.filename, jpeg.content_type) == (b"JPEG", "picture-2", "image/jpeg")
    assert ("phone", "+380501234567", Confidence.STATED) in {(c.kind, c.value, c.confidence) for c in shared.identities}
    assert (big.attachments[0].size, big.attachments[0].content) == (5000, b"")        # listed, not downloaded
    assert sheet.attachments[0].filename == "price.xlsx" and sheet.attachments[0].content == b"PK\x03\x04"
    assert sheet.attachments[0].content_type.startswith("application/vnd.openxmlformats")
    assert place.attributes["latitude"] == "50.45" and "30.52" in place.text


async def test_other_events_are_acknowledged_and_a_deep_link_becomes_the_source(setup):
    client, emit, _, _ = setup
    user = {"id": USER, "name": "Олег", "language": "uk", "country": "UA", "api_version": 10}
    for event in ({"event": "webhook", "timestamp": 1, "chat_hostname": "SN", "message_token": 9},
                  {"event": "seen", "timestamp": 1, "message_token": 1, "user_id": USER},
                  {"event": "delivered", "timestamp": 1, "message_token": 1, "user_id": USER},
                  {"event": "failed", "timestamp": 1, "message_token": 1, "user_id": USER, "desc": "x"},
                  {"event": "subscribed", "timestamp": 1, "user": user, "message_token": 2},
                  {"event": "unsubscribed", "timestamp": 1, "user_id": USER, "message_token": 3},
                  {"event": "conversation_started", "timestamp": 1, "message_token": 4, "type": "open",
                   "context": "utm_source-ads__utm_campaign-spring", "user": user, "subscribed": False},
                  {"event": "client_status", "timestamp": 1}):
        assert await post(client, event) == 200, event["event"]
    assert emit.contacts == []
    emit.down = True
    assert await post(client, message(10, type="text", text="Привіт")) == 503
    emit.down = False
    assert await post(client, message(10, type="text", text="Привіт")) == 200      # retried: same id, source kept
    assert await post(client, message(11, type="text", text="Ще")) == 200
    first, second = emit.contacts
    assert first.event_id == "viber:10" and first.attributes["deep_link"] == "utm_source-ads__utm_campaign-spring"
    assert first.attributes["utm_source"] == "ads" and first.attributes["utm_campaign"] == "spring"
    assert "deep_link" not in second.attributes


async def test_bad_signature_malformed_and_outage(setup, caplog):
    client, emit, _, _ = setup
    body, _ = signed(message(4, type="text", text="x"))
    assert (await client.post("/viber/webhook", data=body, headers={"X-Viber-Content-Signature": "00"})).status == 401
    assert (await client.post("/viber/webhook", data=body)).status == 401
    assert "bad or missing signature" in caplog.text
    junk = b"{oops"
    _, junk_headers = signed({})
    junk_headers["X-Viber-Content-Signature"] = hmac.new(TOKEN.encode(), junk, hashlib.sha256).hexdigest()
    assert (await client.post("/viber/webhook", data=junk, headers=junk_headers)).status == 400
    assert await post(client, {"no": "event"}) == 400
    assert await post(client, {"event": "message", "message_token": 5}) == 200       # unreadable: skipped
    emit.down = True
    assert await post(client, message(5, type="text", text="x")) == 503
    emit.down = False
    for _ in range(2):                                                             # Viber retries: same id
        assert await post(client, message(5, type="text", text="x")) == 200
    assert [c.event_id for c in emit.contacts] == ["viber:5", "viber:5"]


async def test_replies_and_unsubscribed_receivers(setup, viber_api):
    _, _, api, channel = setup
    responder = ViberResponder(channel._config, channel)
    ok = await responder.send(OutboundMessage("viber", 1, "m", USER, "Дякую!", thread_ref=USER))
    assert ok.ok and ok.provider_id == "5741311803571721087"
    method, body = api.calls[-1]
    assert (method, body["receiver"], body["text"], body["sender"]["name"]) == (
        "send_message", USER, "Дякую!", "Switchboard")
    gone = await responder.send(OutboundMessage("viber", 2, "m2", "gone", "?", thread_ref="gone"))
    assert (gone.ok, gone.error) == (False, "receiverNotSubscribed")
    _, server = viber_api
    idle = ViberChannel(settings(server), RecordingEmit())
    not_started = await ViberResponder(idle._config, idle).send(OutboundMessage("viber", 3, "m3", USER, "x"))
    assert not not_started.ok and "not started" in (not_started.error or "")
    down = ViberChannel(settings(server, base_url="http://127.0.0.1:9"), RecordingEmit())
    await down.start()
    try:
        unreachable = await ViberResponder(down._config, down).send(OutboundMessage("viber", 4, "m4", USER, "x"))
    finally:
        await down.stop()
    assert (unreachable.ok, unreachable.retryable) == (False, True)


@pytest.mark.parametrize(("table", "error"), [
    ({}, "viber.auth_token: required"),
    ({"auth_token": "t", "token": "x"}, "viber.token: unknown setting"),
    ({"auth_token": "t", "webhook_url": "example.com/viber"}, "viber.webhook_url"),
    ({"auth_token": "t", "max_file_bytes": -1}, "viber.max_file_bytes"),
])
def test_settings_errors_name_the_key(table, error):
    with pytest.raises(ValueError, match=error.replace(".", r"\.")):
        config_of(table, "UA")


def test_settings_defaults():
    config = config_of({"auth_token": "t"}, "UA")
    assert (config.base_url, config.webhook_url, config.region) == ("https://chatapi.viber.com", None, "UA")


def test_build_gives_the_channel_and_its_responder():
    parts = build(ViberConfig(auth_token="t"), BuildContext(emit=RecordingEmit(), region="UA", storage_dir=Path("unused")))
    assert [r.channel for r in parts.responders] == ["viber"] and len(parts.routes) == 1
    assert not parts.listeners[0].exclusive
