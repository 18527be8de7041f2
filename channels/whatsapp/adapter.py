"""WhatsApp Cloud API: webhook verification, signed deliveries, text and media in, replies out.

Meta retries a delivery that is not answered 200, for days: so 200 only after every message of it
is committed (a retried delivery is recognised by the message ids), 503 while the store is down,
and 401/400 for what is not Meta's or not readable.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp import web

from channels.media import fetch_attachment
from channels.http_body import BodyTooLarge, parse_json, read_bounded
from channels.plug import BuildContext, ChannelParts, Listening
from channels.types import Attachment, Delivery, Emit, IntakeUnavailable, OutboundMessage
from channels.whatsapp.config import WhatsAppConfig
from channels.whatsapp.parse import MediaRef, messages_of, parse_message
from vocabulary.channels import WHATSAPP

__all__ = ["WhatsAppChannel", "WhatsAppConfig", "WhatsAppResponder", "build"]

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
SIGNATURE_HEADER = "X-Hub-Signature-256"


class WhatsAppChannel:
    """`GET/POST /whatsapp/webhook`; `start()` opens the HTTP client for media, `stop()` closes it."""

    name = WHATSAPP

    def __init__(self, config: WhatsAppConfig, emit: Emit) -> None:
        self._config = config
        self._emit = emit
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the Graph API client (media downloads, replies)."""
        if self.http is None:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, connect=10))

    async def stop(self) -> None:
        """Close the Graph API client."""
        if self.http is not None:
            await self.http.close()
            self.http = None

    def routes(self) -> list[web.RouteDef]:
        """Meta's verification handshake and the deliveries."""
        return [web.get("/whatsapp/webhook", self.verify), web.post("/whatsapp/webhook", self.receive)]

    def add_routes(self, target: web.Application | web.UrlDispatcher) -> None:
        """Register `routes()` on an application or its router."""
        (target.router if isinstance(target, web.Application) else target).add_routes(self.routes())

    async def verify(self, request: web.Request) -> web.Response:
        """Meta's subscription handshake: echo the challenge to whoever knows our verify token."""
        q = request.query
        if q.get("hub.mode") == "subscribe" and hmac.compare_digest(
                q.get("hub.verify_token", "").encode(), self._config.verify_token.encode()):
            return web.Response(text=q.get("hub.challenge", ""))
        log.warning("whatsapp: webhook verification refused from %s", request.remote)
        return web.Response(status=403, text="forbidden")

    async def receive(self, request: web.Request) -> web.Response:
        """One signed delivery: every message in it committed, then 200."""
        try:
            raw = await read_bounded(request, MAX_BODY)
        except BodyTooLarge:
            return web.json_response({"error": "too large"}, status=413)
        expected = "sha256=" + hmac.new(self._config.app_secret.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), request.headers.get(SIGNATURE_HEADER, "").lower().encode()):
            log.warning("whatsapp: bad or missing signature from %s", request.remote)
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            payload = parse_json(raw)
            messages = list(messages_of(payload))
        except (ValueError, AttributeError, TypeError):
            return web.json_response({"error": "malformed payload"}, status=400)
        try:
            for message, names in messages:
                await self._deliver(message, names)
        except IntakeUnavailable:
            return web.json_response({"error": "try again later"}, status=503)   # Meta retries
        return web.json_response({"ok": True})

    async def _deliver(self, message: Mapping[str, Any], names: Mapping[str, str]) -> None:
        try:
            parsed = parse_message(message, names, self._config.region)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("whatsapp: unreadable message skipped: %s", exc)
            return
        contact = parsed.contact
        if parsed.media is not None:
            contact = replace(contact, attachments=(await self._media(parsed.media),))
        await self._emit(contact)

    async def _media(self, ref: MediaRef) -> Attachment:
        """Ask the Graph API where the media is, then download it within max_file_bytes."""
        if self.http is None:
            await self.start()
        assert self.http is not None
        auth = {"Authorization": f"Bearer {self._config.access_token}"}
        try:
            async with self.http.get(f"{self._config.base_url}/{ref.media_id}", headers=auth) as response:
                response.raise_for_status()
                meta = await response.json(content_type=None)
            url = str(meta["url"])
            size = int(meta.get("file_size") or 0)
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            log.warning("whatsapp: media %s not described: %s", ref.media_id, exc)
            return Attachment(ref.filename, ref.content_type, 0, ref=f"whatsapp:{ref.media_id}")
        content_type = str(meta.get("mime_type") or ref.content_type).split(";")[0].strip()
        if size > self._config.max_file_bytes:
            return Attachment(ref.filename, content_type, size)             # listed, not downloaded
        try:
            return await fetch_attachment(self.http, url, filename=ref.filename, content_type=content_type,
                                          limit=self._config.max_file_bytes, headers=auth)
        except TimeoutError:
            log.warning("whatsapp: media %s timed out", ref.media_id)
            return Attachment(ref.filename, content_type, size, ref=f"whatsapp:{ref.media_id}")


def build(config: WhatsAppConfig, context: BuildContext) -> ChannelParts:
    """`[whatsapp]`: the webhook routes, the Graph API client (any process may run one), and replies."""
    config = config.in_region(context.region)
    channel = WhatsAppChannel(config, context.emit)
    return ChannelParts(routes=tuple(channel.routes()), responders=(WhatsAppResponder(config, channel),),
                        listeners=(Listening(WHATSAPP, channel),))

class WhatsAppResponder:
    """Text replies through `POST {base_url}/{phone_number_id}/messages`; failures come back as Delivery."""

    channel = WHATSAPP

    def __init__(self, config: WhatsAppConfig, channel: WhatsAppChannel) -> None:
        self._config = config
        self._channel = channel

    async def send(self, message: OutboundMessage) -> Delivery:
        """Send `message.text` to the WhatsApp id in `thread_ref` (or `to`)."""
        http = self._channel.http
        if http is None:
            return Delivery(ok=False, error="WhatsApp channel not started", retryable=True)
        to = (message.thread_ref or message.to).lstrip("+")
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
                "text": {"preview_url": False, "body": message.text}}
        url = f"{self._config.base_url}/{self._config.phone_number_id}/messages"
        try:
            async with http.post(url, json=body, headers={
                    "Authorization": f"Bearer {self._config.access_token}"}) as response:
                status = response.status
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return Delivery(ok=False, error=f"WhatsApp unreachable: {exc or type(exc).__name__}", retryable=True)
        data = data if isinstance(data, dict) else {}
        if status >= 400 or "error" in data:
            error = data.get("error") if isinstance(data.get("error"), dict) else {}
            text = error.get("message") or f"HTTP {status}"
            details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
            return Delivery(ok=False, error=f"{text}: {details}" if details else text,
                            retryable=status >= 500 or status == 429)
        sent = data.get("messages") or [{}]
        return Delivery(ok=True, provider_id=str(sent[0].get("id") or "") or None)
