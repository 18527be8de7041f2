"""WhatsApp Cloud API webhook and replies against a local fake of the Graph API."""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.types import Accepted, Confidence, InboundContact, IntakeUnavailable, OutboundMessage
from channels.whatsapp.adapter import WhatsAppChannel, WhatsAppResponder, config_from_mapping

SECRET = "app-secret"


class Emit:
    def __init__(self) -> None:
        self.contacts: list[InboundContact] = []
        self.down = False

    async def __call__(self, contact: InboundContact) -> Accepted:
        if self.down:
            raise IntakeUnavailable("down")
        self.contacts.append(contact)
        return Accepted(1, 1, len(self.contacts))


class Graph:
    """The few Graph API endpoints the adapter uses, as Meta's documentation shows them."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.media = {"img1": b"\x89PNG small", "big1": b"x" * 5000}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v20.0/{media_id}", self.describe)
        app.router.add_get("/download/{media_id}", self.download)
        app.router.add_post("/v20.0/{phone_id}/messages", self.messages)
        return app

    async def describe(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        assert request.headers["Authorization"] == "Bearer token"
        return web.json_response({"url": f"http://{request.host}/download/{media_id}", "mime_type": "image/png",
                                  "file_size": len(self.media[media_id]), "id": media_id})

    async def download(self, request: web.Request) -> web.Response:
        return web.Response(body=self.media[request.match_info["media_id"]])

    async def messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["to"] == "79990000000":
            return web.json_response({"error": {"message": "Recipient phone number not in allowed list",
                                                "code": 131030}}, status=400)
        self.sent.append(body)
        return web.json_response({"messaging_product": "whatsapp", "messages": [{"id": "wamid.OUT1"}]})


def delivery(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "PN1"},
        "contacts": [{"profile": {"name": "Арам Петросян"}, "wa_id": "37491234567"}],
        "messages": list(messages)}}]}]}


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


@pytest.fixture
async def setup() -> AsyncIterator[tuple[TestClient, Emit, Graph, WhatsAppChannel]]:
    graph = Graph()
    graph_server = TestServer(graph.app(), host="127.0.0.1")
    await graph_server.start_server()
    config = config_from_mapping({"verify_token": "verify-me", "app_secret": SECRET, "access_token": "token",
                                  "phone_number_id": "PN1", "max_file_bytes": 1000,
                                  "base_url": f"http://127.0.0.1:{graph_server.port}/v20.0"}, "RU")
    emit = Emit()
    channel = WhatsAppChannel(config, emit)
    await channel.start()
    app = web.Application()
    app.add_routes(channel.routes())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, emit, graph, channel
    await channel.stop()
    await graph_server.close()


async def test_verification_handshake(setup):
    client, *_ = setup
    ok = await client.get("/whatsapp/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "verify-me",
                                                       "hub.challenge": "1158201444"})
    assert ok.status == 200 and await ok.text() == "1158201444"
    bad = await client.get("/whatsapp/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                                        "hub.challenge": "x"})
    assert bad.status == 403


async def test_text_and_media_in_with_the_phone_identity(setup):
    client, emit, _, _ = setup
    body = json.dumps(delivery(
        {"from": "37491234567", "id": "wamid.A", "timestamp": "1800000000", "type": "text",
         "text": {"body": "Բարև, хочу заказать"}},
        {"from": "37491234567", "id": "wamid.B", "timestamp": "1800000001", "type": "image",
         "image": {"id": "img1", "mime_type": "image/png", "caption": "вот фото"}},
        {"from": "37491234567", "id": "wamid.C", "timestamp": "1800000002", "type": "document",
         "document": {"id": "big1", "mime_type": "application/pdf", "filename": "big.pdf"}})).encode()
    response = await client.post("/whatsapp/webhook", data=body, headers=signed(body))
    assert response.status == 200
    text, image, big = emit.contacts
    assert (text.channel, text.event_id, text.name, text.thread_ref) == ("whatsapp", "wa:wamid.A", "Арам Петросян",
                                                                          "37491234567")
    assert ("phone", "+37491234567", Confidence.VERIFIED) in {(c.kind, c.value, c.confidence) for c in text.identities}
    assert image.text == "вот фото" and image.attachments[0].content == b"\x89PNG small"
    assert big.attachments[0].size == 5000 and big.attachments[0].content == b""


async def test_bad_signatures_malformed_bodies_and_store_outages(setup):
    client, emit, _, _ = setup
    body = json.dumps(delivery({"from": "37491234567", "id": "wamid.D", "type": "text",
                                "text": {"body": "hi"}})).encode()
    assert (await client.post("/whatsapp/webhook", data=body, headers=signed(body, "forged"))).status == 401
    assert (await client.post("/whatsapp/webhook", data=body)).status == 401
    junk = b"{not json"
    assert (await client.post("/whatsapp/webhook", data=junk, headers=signed(junk))).status == 400
    emit.down = True
    assert (await client.post("/whatsapp/webhook", data=body, headers=signed(body))).status == 503
    emit.down = False
    statuses = json.dumps({"entry": [{"changes": [{"value": {"statuses": [{"id": "wamid.OUT1"}]}}]}]}).encode()
    assert (await client.post("/whatsapp/webhook", data=statuses, headers=signed(statuses))).status == 200
    assert emit.contacts == []


async def test_replies_and_refusals(setup):
    _, _, graph, channel = setup
    responder = WhatsAppResponder(channel._config, channel)
    ok = await responder.send(OutboundMessage("whatsapp", 1, "m1", "37491234567", "Շնորհակալություն!",
                                              thread_ref="37491234567"))
    assert ok.ok and ok.provider_id == "wamid.OUT1" and graph.sent[0]["text"]["body"] == "Շնորհակալություն!"
    refused = await responder.send(OutboundMessage("whatsapp", 2, "m2", "79990000000", "hi"))
    assert not refused.ok and "not in allowed list" in (refused.error or "")
