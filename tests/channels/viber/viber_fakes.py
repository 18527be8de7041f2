"""A local Viber REST API (set_webhook with its check callback, send_message, media) and callbacks as documented."""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import aiohttp
from aiohttp import web

from channels.types import Accepted, InboundContact, IntakeUnavailable

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
USER = "01234567890A="


class RecordingEmit:
    def __init__(self) -> None:
        self.contacts: list[InboundContact] = []
        self.down = False

    async def __call__(self, contact: InboundContact) -> Accepted:
        if self.down:
            raise IntakeUnavailable("down")
        self.contacts.append(contact)
        return Accepted(1, 1, len(self.contacts))


class ViberApi:
    """Like chatapi.viber.com: set_webhook first POSTs a signed "webhook" event to the URL and fails unless it is answered."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.checks: list[int] = []                  # HTTP status of each webhook check callback (0: unreachable)
        self.files = {"photo.jpg": b"JPEG", "big.pdf": b"x" * 5000, "price.xlsx": b"PK\x03\x04"}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/pa/{method}", self.method)
        app.router.add_get("/media/{name}", self.media)
        return app

    async def media(self, request: web.Request) -> web.Response:
        return web.Response(body=self.files[request.match_info["name"]])

    async def method(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Viber-Auth-Token") != self.token:
            return web.json_response({"status": 2, "status_message": "invalidAuthToken"})
        body = await request.json()
        self.calls.append((request.match_info["method"], body))
        if request.match_info["method"] == "set_webhook":
            return await self._set_webhook(body)
        if body.get("receiver") == "gone":
            return web.json_response({"status": 6, "status_message": "receiverNotSubscribed"})
        return web.json_response({"status": 0, "status_message": "ok", "message_token": 5741311803571721087,
                                  "chat_hostname": "SN-CHAT-01_"})

    async def _set_webhook(self, body: dict[str, Any]) -> web.Response:
        check, headers = signed({"event": "webhook", "timestamp": 1457764197627, "chat_hostname": "SN-CHAT-01_",
                                 "message_token": 241256543215}, self.token)
        try:
            async with aiohttp.ClientSession() as http, http.post(body["url"], data=check, headers=headers) as answer:
                self.checks.append(answer.status)
        except aiohttp.ClientError:
            self.checks.append(0)
        if self.checks[-1] != 200:
            return web.json_response({"status": 1, "status_message": f"Result[HttpRequest[POST {body['url']}]] Failed"})
        return web.json_response({"status": 0, "status_message": "ok", "event_types": body.get("event_types", [])})


def signed(event: dict[str, Any], token: str = TOKEN) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {"X-Viber-Content-Signature": hmac.new(token.encode(), body, hashlib.sha256).hexdigest(),
                  "Content-Type": "application/json"}


def message(token: int, **msg: Any) -> dict[str, Any]:
    return {"event": "message", "timestamp": 1457764197627, "chat_hostname": "SN-CHAT-01_", "message_token": token,
            "sender": {"id": USER, "name": "Олег", "avatar": "http://avatar.example.com", "language": "uk",
                       "country": "UA", "api_version": 10}, "message": msg, "silent": False}
