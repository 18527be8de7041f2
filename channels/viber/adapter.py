"""Viber REST bot: webhook set-up, signed callbacks, messages (text, media, contacts) in, replies out."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from channels.identity import InvalidIdentity, mentioned_identities, normalize_phone
from channels.media import fetch_attachment
from channels.types import Confidence, Delivery, Emit, IdentityClaim, InboundContact, IntakeUnavailable
from channels.types import OutboundMessage as Outbound

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
EVENTS = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]


@dataclass(frozen=True, slots=True)
class ViberConfig:
    auth_token: str
    base_url: str = "https://chatapi.viber.com"
    webhook_url: str | None = None        # public URL of /viber/webhook, registered at start
    sender_name: str = "Switchboard"
    max_file_bytes: int = 10 * 1024 * 1024
    region: str = "RU"


def config_from_mapping(table: Mapping[str, Any], region: str) -> ViberConfig:
    known = {f.name for f in fields(ViberConfig)}
    if set(table) - known:
        raise ValueError(f"viber.{sorted(set(table) - known)[0]}: unknown setting")
    if not table.get("auth_token"):
        raise ValueError("viber.auth_token: required")
    return ViberConfig(**{**table, "region": region})


def parse_message(event: Mapping[str, Any], region: str | None) -> InboundContact:
    sender, message = event["sender"], event["message"]
    user_id = str(sender["id"])
    identities = [IdentityClaim("viber", user_id, Confidence.VERIFIED)]
    kind = message.get("type", "text")
    text = str(message.get("text") or "")
    attributes = {"viber_type": kind}
    if kind == "contact":
        number = (message.get("contact") or {}).get("phone_number", "")
        try:
            identities.append(IdentityClaim("phone", normalize_phone(number, region), Confidence.STATED))
        except InvalidIdentity:
            pass
        text = text or f"{(message.get('contact') or {}).get('name', '')} {number}".strip()
    if kind in ("picture", "file", "video") and message.get("media"):
        attributes.update(media_url=str(message["media"]),
                          media_name=str(message.get("file_name") or f"{kind}-{event.get('message_token')}"))
    if kind == "location":
        location = message.get("location") or {}
        attributes.update(latitude=str(location.get("lat")), longitude=str(location.get("lon")))
        text = text or f"📍 {location.get('lat')}, {location.get('lon')}"
    identities += list(mentioned_identities(text, region))
    stamp = event.get("timestamp")
    return InboundContact(
        channel="viber", event_id=f"viber:{event['message_token']}", source_id=user_id, thread_ref=user_id,
        received_at=datetime.fromtimestamp(int(stamp) / 1000, UTC) if isinstance(stamp, int) else datetime.now(UTC),
        name=sender.get("name"), text=text, attributes=attributes, identities=tuple(identities),
    )


class ViberChannel:
    def __init__(self, config: ViberConfig, emit: Emit) -> None:
        self._config = config
        self._emit = emit
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        if self._config.webhook_url:
            await self.set_webhook()

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/viber/webhook", self.receive)]

    async def call(self, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        assert self.http is not None
        async with self.http.post(f"{self._config.base_url}/pa/{method}", json=dict(body),
                                  headers={"X-Viber-Auth-Token": self._config.auth_token}) as response:
            return await response.json(content_type=None)

    async def set_webhook(self) -> None:
        """Register our webhook; Viber calls it back once with event "webhook" to check it."""
        answer = await self.call("set_webhook", {"url": self._config.webhook_url, "event_types": EVENTS,
                                                 "send_name": True})
        if answer.get("status") != 0:
            raise ValueError(f"viber set_webhook refused: {answer.get('status_message')}")

    async def receive(self, request: web.Request) -> web.Response:
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return web.json_response({"error": "too large"}, status=413)
        expected = hmac.new(self._config.auth_token.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Viber-Content-Signature", "").lower()):
            log.warning("viber: bad signature from %s", request.remote)
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            event = json.loads(raw)
            kind = event["event"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "malformed payload"}, status=400)
        if kind != "message":
            return web.json_response({"status": 0})      # webhook check, receipts, (un)subscriptions
        try:
            contact = parse_message(event, self._config.region)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("viber: unreadable message skipped: %s", exc)
            return web.json_response({"status": 0})
        url = contact.attributes.get("media_url")
        if url and self.http is not None:
            attachment = await fetch_attachment(self.http, url, filename=contact.attributes["media_name"],
                                                content_type="application/octet-stream",
                                                limit=self._config.max_file_bytes)
            contact = replace(contact, attachments=(attachment,))
        try:
            await self._emit(contact)
        except IntakeUnavailable:
            return web.json_response({"error": "try again later"}, status=503)
        return web.json_response({"status": 0})


class ViberResponder:
    channel = "viber"

    def __init__(self, config: ViberConfig, channel: ViberChannel) -> None:
        self._config = config
        self._channel = channel

    async def send(self, message: Outbound) -> Delivery:
        try:
            answer = await self._channel.call("send_message", {
                "receiver": message.thread_ref or message.to, "type": "text", "text": message.text,
                "sender": {"name": self._config.sender_name}})
        except (aiohttp.ClientError, ValueError) as exc:
            return Delivery(ok=False, error=f"Viber unreachable: {exc}", retryable=True)
        if answer.get("status") != 0:
            return Delivery(ok=False, error=str(answer.get("status_message") or "not delivered"))
        return Delivery(ok=True, provider_id=str(answer.get("message_token")))
