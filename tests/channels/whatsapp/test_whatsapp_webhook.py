"""WhatsApp Cloud API webhook and replies against a local fake of the Graph API."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.plug import BuildContext
from channels.types import Confidence, OutboundMessage
from channels.section import read_section
from channels.whatsapp.adapter import WhatsAppChannel, WhatsAppResponder, build
from channels.whatsapp.config import WhatsAppConfig
from whatsapp_fakes import WA_ID, Graph, RecordingEmit, delivery, signed, text


def config_of(table, region):
    return read_section(WhatsAppConfig, table, "whatsapp").in_region(region)


@pytest.fixture
async def graph() -> AsyncIterator[tuple[Graph, TestServer]]:
    fake = Graph()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    yield fake, server
    await server.close()


def settings(server: TestServer, **extra: object):  # type: ignore[no-untyped-def]
    return config_of({"verify_token": "verify-me", "app_secret": "app-secret", "access_token": "token",
                                "phone_number_id": "PN1", "max_file_bytes": 1000,
                                "base_url": f"http://127.0.0.1:{server.port}/v20.0", **extra}, "RU")


@pytest.fixture
async def setup(graph) -> AsyncIterator[tuple[TestClient, RecordingEmit, Graph, WhatsAppChannel]]:
    fake, server = graph
    emit = RecordingEmit()
    channel = WhatsAppChannel(settings(server), emit)
    await channel.start()
    app = web.Application()
    channel.add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, emit, fake, channel
    await channel.stop()


async def post(client: TestClient, payload: object, secret: str = "app-secret") -> int:
    body = json.dumps(payload).encode()
    return (await client.post("/whatsapp/webhook", data=body, headers=signed(body, secret))).status


async def test_verification_handshake(setup):
    client, *_ = setup
    ok = await client.get("/whatsapp/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "verify-me",
                                                       "hub.challenge": "1158201444"})
    assert ok.status == 200 and await ok.text() == "1158201444"
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "x"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": "verify-me", "hub.challenge": "x"}, {}):
        assert (await client.get("/whatsapp/webhook", params=params)).status == 403


async def test_text_and_media_in_with_the_phone_identity(setup):
    client, emit, graph, _ = setup
    status = await post(client, delivery(
        text("wamid.A", "Բարև, хочу заказать"),
        {"from": WA_ID, "id": "wamid.B", "timestamp": "1800000001", "type": "image",
         "image": {"id": "img1", "mime_type": "image/png", "sha256": "x", "caption": "вот фото"}},
        {"from": WA_ID, "id": "wamid.C", "timestamp": "1800000002", "type": "document",
         "document": {"id": "big1", "mime_type": "application/pdf", "filename": "big.pdf"}},
        {"from": WA_ID, "id": "wamid.D", "timestamp": "1800000003", "type": "document",
         "document": {"id": "pdf1", "mime_type": "application/pdf", "filename": "../../счёт.pdf"}},
        {"from": WA_ID, "id": "wamid.E", "timestamp": "1800000004", "type": "audio",
         "audio": {"id": "deleted1", "mime_type": "audio/ogg; codecs=opus", "voice": True}}))
    assert status == 200
    message, image, big, pdf, lost = emit.contacts
    assert (message.channel, message.event_id, message.name, message.source_id, message.thread_ref) == (
        "whatsapp", "wa:wamid.A", "Арам Петросян", WA_ID, WA_ID)
    claims = {(c.kind, c.value, c.confidence) for c in message.identities}
    assert {("phone", "+37491234567", Confidence.VERIFIED), ("whatsapp", WA_ID, Confidence.VERIFIED)} <= claims
    assert message.received_at.timestamp() == 1_800_000_000
    assert image.text == "вот фото" and image.attachments[0].content == b"\x89PNG small"
    assert image.attachments[0].content_type == "image/png"
    assert (big.attachments[0].size, big.attachments[0].content) == (5000, b"")      # listed, not downloaded
    assert (pdf.attachments[0].filename, pdf.attachments[0].content) == ("счёт.pdf", b"%PDF-1.7 tiny")
    assert (lost.attachments[0].size, lost.attachments[0].content_type) == (0, "audio/ogg")  # lookup failed
    assert graph.downloads == ["img1", "pdf1"]


async def test_bad_signatures_malformed_bodies_and_statuses(setup, caplog):
    client, emit, _, _ = setup
    payload = delivery(text("wamid.D", "hi"))
    assert await post(client, payload, secret="forged") == 401
    assert (await client.post("/whatsapp/webhook", data=json.dumps(payload))).status == 401
    assert "bad or missing signature" in caplog.text
    junk = b"{not json"
    assert (await client.post("/whatsapp/webhook", data=junk, headers=signed(junk))).status == 400
    assert await post(client, {"entry": "nonsense"}) == 400
    receipts = delivery(statuses=[{"id": "wamid.OUT1", "status": "read", "timestamp": "1800000005",
                                   "recipient_id": WA_ID}])
    assert await post(client, receipts) == 200
    assert await post(client, delivery({"from": WA_ID, "type": "text"})) == 200       # unreadable: skipped
    assert emit.contacts == []


async def test_a_large_signed_delivery_is_read_whole(setup):
    client, emit, _, _ = setup
    assert await post(client, delivery(*(text(f"wamid.L{i}", "я" * 2000) for i in range(40)))) == 200  # ~160 KB
    assert len(emit.contacts) == 40


async def test_a_store_outage_is_a_503_and_the_retry_brings_the_same_ids(setup):
    client, emit, _, _ = setup
    payload = delivery(text("wamid.1", "первое"), text("wamid.2", "второе"))
    emit.down_for = {"wa:wamid.2"}
    assert await post(client, payload) == 503                  # not acknowledged: Meta delivers it again
    emit.down_for = set()
    assert await post(client, payload) == 200
    assert await post(client, payload) == 200                  # a duplicate delivery: same ids, store dedupes
    assert emit.events() == ["wa:wamid.1", "wa:wamid.1", "wa:wamid.2", "wa:wamid.1", "wa:wamid.2"]


async def test_replies_refusals_and_failures_are_deliveries(setup, graph):
    _, _, fake, channel = setup
    responder = WhatsAppResponder(channel._config, channel)
    ok = await responder.send(OutboundMessage("whatsapp", 1, "m1", WA_ID, "Շնորհակալություն!", thread_ref=WA_ID))
    assert ok.ok and ok.provider_id == "wamid.OUT1"
    assert fake.sent[0]["to"] == WA_ID and fake.sent[0]["text"]["body"] == "Շնորհակալություն!"
    refused = await responder.send(OutboundMessage("whatsapp", 2, "m2", "+79990000000", "hi"))
    assert not refused.ok and "not in allowed list" in (refused.error or "") and not refused.retryable
    _, server = graph
    idle = WhatsAppChannel(settings(server), RecordingEmit())
    not_started = await WhatsAppResponder(idle._config, idle).send(OutboundMessage("whatsapp", 3, "m3", WA_ID, "x"))
    assert not not_started.ok and "not started" in (not_started.error or "")
    down = WhatsAppChannel(settings(server, base_url="http://127.0.0.1:9/v20.0"), RecordingEmit())
    await down.start()
    try:
        unreachable = await WhatsAppResponder(down._config, down).send(OutboundMessage("whatsapp", 4, "m4", WA_ID, "x"))
    finally:
        await down.stop()
    assert (unreachable.ok, unreachable.retryable) == (False, True)


@pytest.mark.parametrize(("table", "error"), [
    ({"app_secret": "s", "access_token": "t", "phone_number_id": "1"}, "whatsapp.verify_token: required"),
    ({"verify_token": "v", "access_token": "t", "phone_number_id": "1"}, "whatsapp.app_secret: required"),
    ({"verify_token": "v", "app_secret": "s", "access_token": "t", "phone_number_id": 1, "extra": 1},
     "whatsapp.extra: unknown setting"),
    ({"verify_token": "v", "app_secret": "s", "access_token": "t", "phone_number_id": 1, "max_file_bytes": "x"},
     "whatsapp.max_file_bytes"),
])
def test_settings_errors_name_the_key(table, error):
    with pytest.raises(ValueError, match=error.replace(".", r"\.")):
        config_of(table, "RU")


def test_settings_defaults():
    config = config_of({"verify_token": "v", "app_secret": "s", "access_token": "t",
                                  "phone_number_id": 106540352242922}, "AM")
    assert config.base_url == "https://graph.facebook.com/v20.0" and config.phone_number_id == "106540352242922"


def test_build_gives_the_channel_and_its_responder():
    parts = build(WhatsAppConfig(verify_token="v", app_secret="s", access_token="t", phone_number_id="1"),
                  BuildContext(emit=RecordingEmit(), region="RU", storage_dir=Path("unused")))
    assert [r.channel for r in parts.responders] == ["whatsapp"] and len(parts.routes) == 2
