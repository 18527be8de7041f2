"""WhatsApp Cloud API: webhook verification, signed deliveries, text and media in, replies out."""
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
from channels.types import (
    Attachment,
    Confidence,
    Delivery,
    Emit,
    IdentityClaim,
    InboundContact,
    IntakeUnavailable,
    OutboundMessage,
)

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
MEDIA_KINDS = {"image": "image", "document": "document", "audio": "audio", "voice": "audio", "video": "video"}


@dataclass(frozen=True, slots=True)
class WhatsAppConfig:
    verify_token: str
    app_secret: str
    access_token: str
    phone_number_id: str
    base_url: str = "https://graph.facebook.com/v20.0"
    max_file_bytes: int = 10 * 1024 * 1024
    region: str = "RU"


def config_from_mapping(table: Mapping[str, Any], region: str) -> WhatsAppConfig:
    known = {f.name for f in fields(WhatsAppConfig)}
    if set(table) - known:
        raise ValueError(f"whatsapp.{sorted(set(table) - known)[0]}: unknown setting")
    missing = [k for k in ("verify_token", "app_secret", "access_token", "phone_number_id") if not table.get(k)]
    if missing:
        raise ValueError(f"whatsapp.{missing[0]}: required")
    return WhatsAppConfig(**{**table, "region": region})


def parse_message(message: Mapping[str, Any], names: Mapping[str, str], region: str | None) -> InboundContact:
    """One entry of `value.messages` as a contact (media to fetch are named in attributes)."""
    wa_id = str(message["from"])
    identities = [IdentityClaim("whatsapp", wa_id, Confidence.VERIFIED)]
    try:
        # A WhatsApp id is the client's phone number: it proves the phone identity too.
        identities.append(IdentityClaim("phone", normalize_phone("+" + wa_id, region), Confidence.VERIFIED))
    except InvalidIdentity:
        pass
    kind = message.get("type", "")
    body = message.get(kind) if isinstance(message.get(kind), dict) else {}
    text = (message.get("text") or {}).get("body", "") if kind == "text" else str(body.get("caption", ""))
    attributes = {"whatsapp_type": kind}
    if kind in MEDIA_KINDS and body.get("id"):
        attributes.update(media_id=str(body["id"]), media_type=str(body.get("mime_type", "")),
                          media_name=str(body.get("filename") or f"{kind}-{message.get('id')}"))
    if kind == "location":
        attributes.update(latitude=str(body.get("latitude")), longitude=str(body.get("longitude")))
        text = text or f"📍 {body.get('latitude')}, {body.get('longitude')}"
    identities += list(mentioned_identities(text, region))
    stamp = message.get("timestamp")
    return InboundContact(
        channel="whatsapp", event_id=f"wa:{message['id']}", source_id=wa_id, thread_ref=wa_id,
        received_at=datetime.fromtimestamp(int(stamp), UTC) if str(stamp or "").isdigit() else datetime.now(UTC),
        name=names.get(wa_id), text=text, attributes=attributes, identities=tuple(identities),
    )


class WhatsAppChannel:
    def __init__(self, config: WhatsAppConfig, emit: Emit) -> None:
        self._config = config
        self._emit = emit
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/whatsapp/webhook", self.verify), web.post("/whatsapp/webhook", self.receive)]

    async def verify(self, request: web.Request) -> web.Response:
        """Meta's subscription handshake: echo the challenge to whoever knows our verify token."""
        q = request.query
        if q.get("hub.mode") == "subscribe" and hmac.compare_digest(q.get("hub.verify_token", ""),
                                                                     self._config.verify_token):
            return web.Response(text=q.get("hub.challenge", ""))
        log.warning("whatsapp: webhook verification refused from %s", request.remote)
        return web.Response(status=403, text="forbidden")

    async def receive(self, request: web.Request) -> web.Response:
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return web.json_response({"error": "too large"}, status=413)
        expected = "sha256=" + hmac.new(self._config.app_secret.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
            log.warning("whatsapp: bad signature from %s", request.remote)
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            payload = json.loads(raw)
            changes = [c.get("value", {}) for e in payload.get("entry", []) for c in e.get("changes", [])]
        except (ValueError, AttributeError, TypeError):
            return web.json_response({"error": "malformed payload"}, status=400)
        try:
            for value in changes:
                names = {str(c.get("wa_id")): (c.get("profile") or {}).get("name") for c in value.get("contacts", [])}
                for message in value.get("messages", []):   # `statuses` (delivery receipts) need nothing
                    await self._deliver(message, names)
        except IntakeUnavailable:
            return web.json_response({"error": "try again later"}, status=503)   # Meta retries
        return web.json_response({"ok": True})

    async def _deliver(self, message: Mapping[str, Any], names: Mapping[str, str]) -> None:
        try:
            contact = parse_message(message, names, self._config.region)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("whatsapp: unreadable message skipped: %s", exc)
            return
        media_id = contact.attributes.get("media_id")
        if media_id:
            contact = replace(contact, attachments=(await self._media(media_id, contact.attributes),))
        await self._emit(contact)

    async def _media(self, media_id: str, attributes: Mapping[str, str]) -> Attachment:
        assert self.http is not None
        name, kind = attributes.get("media_name", media_id), attributes.get("media_type") or "application/octet-stream"
        auth = {"Authorization": f"Bearer {self._config.access_token}"}
        try:
            async with self.http.get(f"{self._config.base_url}/{media_id}", headers=auth) as response:
                response.raise_for_status()
                meta = await response.json()
        except (aiohttp.ClientError, ValueError) as exc:
            log.warning("whatsapp: media %s not described: %s", media_id, exc)
            return Attachment(name, kind, 0)
        size = int(meta.get("file_size") or 0)
        if size > self._config.max_file_bytes:
            return Attachment(name, kind, size)
        return await fetch_attachment(self.http, meta["url"], filename=name, content_type=kind,
                                      limit=self._config.max_file_bytes, headers=auth)


class WhatsAppResponder:
    channel = "whatsapp"

    def __init__(self, config: WhatsAppConfig, channel: WhatsAppChannel) -> None:
        self._config = config
        self._channel = channel

    async def send(self, message: OutboundMessage) -> Delivery:
        assert self._channel.http is not None
        body = {"messaging_product": "whatsapp", "to": message.thread_ref or message.to, "type": "text",
                "text": {"body": message.text}}
        url = f"{self._config.base_url}/{self._config.phone_number_id}/messages"
        try:
            async with self._channel.http.post(url, json=body, headers={
                    "Authorization": f"Bearer {self._config.access_token}"}) as response:
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, ValueError) as exc:
            return Delivery(ok=False, error=f"WhatsApp unreachable: {exc}", retryable=True)
        if response.status >= 400 or "error" in data:
            error = (data.get("error") or {}).get("message") or f"HTTP {response.status}"
            return Delivery(ok=False, error=error, retryable=response.status >= 500)
        return Delivery(ok=True, provider_id=str((data.get("messages") or [{}])[0].get("id")))
