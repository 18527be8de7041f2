"""Viber webhook set-up, signed callbacks and replies against a local fake of the Viber REST API."""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.types import Accepted, InboundContact, IntakeUnavailable, OutboundMessage
from channels.viber.adapter import ViberChannel, ViberResponder, config_from_mapping

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"


class Emit:
    def __init__(self) -> None:
        self.contacts: list[InboundContact] = []
        self.down = False

    async def __call__(self, contact: InboundContact) -> Accepted:
        if self.down:
            raise IntakeUnavailable("down")
        self.contacts.append(contact)
        return Accepted(1, 1, len(self.contacts))


class ViberApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/pa/{method}", self.method)
        app.router.add_get("/media/photo.jpg", self.photo)
        return app

    async def photo(self, request: web.Request) -> web.Response:
        return web.Response(body=b"JPEG")

    async def method(self, request: web.Request) -> web.Response:
        assert request.headers["X-Viber-Auth-Token"] == TOKEN
        body = await request.json()
        self.calls.append((request.match_info["method"], body))
        if body.get("receiver") == "gone":
            return web.json_response({"status": 6, "status_message": "receiverNotSubscribed"})
        return web.json_response({"status": 0, "status_message": "ok", "message_token": 5741311803571721087})


def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {"X-Viber-Content-Signature": hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()}


def message(token: int, **msg: Any) -> dict[str, Any]:
    return {"event": "message", "timestamp": 1457764197627, "message_token": token,
            "sender": {"id": "01234567890A=", "name": "Олег", "language": "ru", "country": "UA"}, "message": msg}


@pytest.fixture
async def setup() -> AsyncIterator[tuple[TestClient, Emit, ViberApi, ViberChannel]]:
    api = ViberApi()
    server = TestServer(api.app(), host="127.0.0.1")
    await server.start_server()
    emit = Emit()
    channel = ViberChannel(config_from_mapping({"auth_token": TOKEN, "base_url": f"http://127.0.0.1:{server.port}",
                                                "webhook_url": "https://switchboard.example/viber/webhook"}, "UA"), emit)
    await channel.start()
    app = web.Application()
    app.add_routes(channel.routes())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, emit, api, channel
    await channel.stop()
    await server.close()


async def test_webhook_is_registered_at_start(setup):
    _, _, api, _ = setup
    method, body = api.calls[0]
    assert method == "set_webhook" and body["url"] == "https://switchboard.example/viber/webhook"


async def test_text_picture_and_contact_messages(setup):
    client, emit, api, channel = setup
    for event in (message(1, type="text", text="Добрий день"),
                  message(2, type="picture", text="", media=f"{channel._config.base_url}/media/photo.jpg"),
                  message(3, type="contact", contact={"name": "Олег", "phone_number": "+380 50 123 4567"}),
                  {"event": "webhook", "timestamp": 1, "message_token": 9},
                  {"event": "seen", "timestamp": 1, "message_token": 1, "user_id": "01234567890A="}):
        body, headers = signed(event)
        assert (await client.post("/viber/webhook", data=body, headers=headers)).status == 200
    text, picture, shared = emit.contacts
    assert (text.channel, text.event_id, text.thread_ref, text.name) == ("viber", "viber:1", "01234567890A=", "Олег")
    assert picture.attachments[0].content == b"JPEG" and picture.attachments[0].filename == "picture-2"
    assert ("phone", "+380501234567") in {(c.kind, c.value) for c in shared.identities}


async def test_bad_signature_malformed_and_outage(setup):
    client, emit, _, _ = setup
    body, _ = signed(message(4, type="text", text="x"))
    assert (await client.post("/viber/webhook", data=body, headers={"X-Viber-Content-Signature": "00"})).status == 401
    junk = b"{oops"
    junk_sig = hmac.new(TOKEN.encode(), junk, hashlib.sha256).hexdigest()
    assert (await client.post("/viber/webhook", data=junk, headers={"X-Viber-Content-Signature": junk_sig})).status == 400
    emit.down = True
    body, headers = signed(message(5, type="text", text="x"))
    assert (await client.post("/viber/webhook", data=body, headers=headers)).status == 503
    assert emit.contacts == []


async def test_replies_and_unsubscribed_receivers(setup):
    _, _, api, channel = setup
    responder = ViberResponder(channel._config, channel)
    ok = await responder.send(OutboundMessage("viber", 1, "m", "01234567890A=", "Дякую!", thread_ref="01234567890A="))
    assert ok.ok and api.calls[-1][1]["text"] == "Дякую!" and api.calls[-1][1]["sender"]["name"] == "Switchboard"
    gone = await responder.send(OutboundMessage("viber", 2, "m2", "gone", "?", thread_ref="gone"))
    assert not gone.ok and gone.error == "receiverNotSubscribed"
