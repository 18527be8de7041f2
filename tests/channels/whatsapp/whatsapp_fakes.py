"""A local Graph API (media lookup, media download, messages) and payloads shaped as Meta documents them."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

from aiohttp import web

from channels.types import Accepted, InboundContact, IntakeUnavailable

SECRET = "app-secret"
WA_ID = "37491234567"


class RecordingEmit:
    def __init__(self) -> None:
        self.contacts: list[InboundContact] = []
        self.down_for: set[str] = set()     # event ids that fail like a store outage
        self.down = False

    async def __call__(self, contact: InboundContact) -> Accepted:
        if self.down or contact.event_id in self.down_for:
            raise IntakeUnavailable("down")
        self.contacts.append(contact)
        return Accepted(1, 1, len(self.contacts))

    def events(self) -> list[str]:
        return [c.event_id for c in self.contacts]


class Graph:
    """The few Graph API endpoints the adapter uses, answering as Meta's documentation shows."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.media = {"img1": b"\x89PNG small", "big1": b"x" * 5000, "pdf1": b"%PDF-1.7 tiny"}
        self.downloads: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v20.0/{media_id}", self.describe)
        app.router.add_get("/download/{media_id}", self.download)
        app.router.add_post("/v20.0/{phone_id}/messages", self.messages)
        return app

    async def describe(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        if request.headers.get("Authorization") != "Bearer token":
            return web.json_response({"error": {"message": "Invalid OAuth access token.", "code": 190}}, status=401)
        if media_id not in self.media:
            return web.json_response({"error": {"message": "Unsupported get request.", "code": 100}}, status=400)
        return web.json_response({"messaging_product": "whatsapp", "url": f"http://{request.host}/download/{media_id}",
                                  "mime_type": "image/png" if media_id == "img1" else "application/pdf",
                                  "sha256": "0" * 64, "file_size": str(len(self.media[media_id])), "id": media_id})

    async def download(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer token"
        media_id = request.match_info["media_id"]
        self.downloads.append(media_id)
        return web.Response(body=self.media[media_id], content_type="application/octet-stream")

    async def messages(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer token"
        body = await request.json()
        if body["to"] == "79990000000":
            return web.json_response({"error": {
                "message": "(#131030) Recipient phone number not in allowed list", "type": "OAuthException",
                "code": 131030, "error_data": {"messaging_product": "whatsapp",
                                               "details": "Recipient phone number not in allowed list"}}},
                status=400)
        self.sent.append(body)
        return web.json_response({"messaging_product": "whatsapp", "contacts": [{"input": body["to"],
                                  "wa_id": body["to"]}], "messages": [{"id": f"wamid.OUT{len(self.sent)}"}]})


def delivery(*messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "PN1"}}
    if messages:
        value["contacts"] = [{"profile": {"name": "Арам Петросян"}, "wa_id": WA_ID}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]}


def text(message_id: str, body: str, **extra: Any) -> dict[str, Any]:
    return {"from": WA_ID, "id": message_id, "timestamp": "1800000000", "type": "text", "text": {"body": body},
            **extra}


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}
