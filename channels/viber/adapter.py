"""Viber REST bot: webhook set-up, signed callbacks, messages (text, media, contacts) in, replies out.

Viber checks a webhook while `set_webhook` is in flight: it POSTs the "webhook" event to the URL
and refuses the set-up unless that is answered. At `start()` (inside the app's cleanup_ctx) our
server is not listening yet, so the registration runs in the background and retries until it is.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp import web

from channels.backoff import Backoff
from channels.media import fetch_attachment
from channels.http_body import BodyTooLarge, parse_json, read_bounded
from channels.plug import BuildContext, ChannelParts, Listening
from channels.types import Attachment, Delivery, Emit, IntakeUnavailable, OutboundMessage
from channels.viber.config import ViberConfig
from channels.viber.parse import MediaRef, parse_message, source_attributes
from vocabulary.channels import VIBER

__all__ = ["ViberChannel", "ViberConfig", "ViberError", "ViberResponder", "build"]

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
SIGNATURE_HEADER = "X-Viber-Content-Signature"
AUTH_HEADER = "X-Viber-Auth-Token"
# Besides these, Viber always sends "message" and "webhook".
EVENTS = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]
PERMANENT = {2: "invalidAuthToken", 3: "badData", 7: "blockedToken", 8: "notExistToken"}
RETRYABLE = {12: "tooManyRequests"}
MAX_CONTEXTS = 10_000      # deep-link contexts waiting for the client's first message


class ViberError(RuntimeError):
    """Viber answered a call with a non-zero status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (status {status})")
        self.status = status
        self.status_message = message


class ViberChannel:
    """`POST /viber/webhook`; `start()` opens the client and registers the webhook in the background."""

    name = VIBER

    def __init__(self, config: ViberConfig, emit: Emit) -> None:
        self._config = config
        self._emit = emit
        self.http: aiohttp.ClientSession | None = None
        self._registration: asyncio.Task[None] | None = None
        self.webhook_ready = asyncio.Event()      # set once set_webhook succeeded
        self._contexts: OrderedDict[str, str] = OrderedDict()
        self.retry_delay = 0.5          # first pause before (re)trying set_webhook, doubled up to 60 s

    async def start(self) -> None:
        """Open the HTTP client; with webhook_url set, register it once our server answers."""
        if self.http is None:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, connect=10))
        if self._config.webhook_url and self._registration is None:
            self._registration = asyncio.create_task(self._register(), name="viber.set_webhook")

    async def stop(self) -> None:
        """Stop a pending registration and close the client (the webhook stays registered)."""
        if self._registration is not None:
            self._registration.cancel()
            await asyncio.gather(self._registration, return_exceptions=True)
            self._registration = None
        if self.http is not None:
            await self.http.close()
            self.http = None

    def routes(self) -> list[web.RouteDef]:
        """The callback route."""
        return [web.post("/viber/webhook", self.receive)]

    def add_routes(self, target: web.Application | web.UrlDispatcher) -> None:
        """Register `routes()` on an application or its router."""
        (target.router if isinstance(target, web.Application) else target).add_routes(self.routes())

    # -- calls to Viber -------------------------------------------------------------------------
    async def call(self, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """`POST {base_url}/pa/{method}`; ViberError unless Viber answers status 0."""
        if self.http is None:
            raise ViberError(-1, "Viber channel not started")
        async with self.http.post(f"{self._config.base_url}/pa/{method}", json=dict(body),
                                  headers={AUTH_HEADER: self._config.auth_token}) as response:
            answer = await response.json(content_type=None)
        if not isinstance(answer, dict):
            raise ViberError(-1, f"unexpected answer, HTTP {response.status}")
        if answer.get("status") != 0:
            raise ViberError(int(answer.get("status") or -1), str(answer.get("status_message") or "refused"))
        return answer

    async def set_webhook(self, url: str | None = None) -> dict[str, Any]:
        """Register `url` (default: webhook_url); Viber checks it with a "webhook" callback first."""
        answer = await self.call("set_webhook", {"url": url or self._config.webhook_url, "event_types": EVENTS,
                                                 "send_name": True, "send_photo": False})
        self.webhook_ready.set()
        log.info("viber: webhook registered at %s", url or self._config.webhook_url)
        return answer

    async def _register(self, attempts: int = 30) -> None:
        backoff = Backoff(self.retry_delay, 60.0)
        for attempt in range(1, attempts + 1):
            await backoff.sleep()  # let the server start listening first
            try:
                await self.set_webhook()
                return
            except ViberError as exc:
                if exc.status in PERMANENT:
                    log.error("viber: set_webhook refused for good: %s", exc)
                    return
                log.warning("viber: set_webhook attempt %d failed: %s", attempt, exc)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("viber: set_webhook attempt %d failed: %s", attempt, exc or type(exc).__name__)
        log.error("viber: webhook not registered after %d attempts; no messages will arrive", attempts)

    # -- callbacks ------------------------------------------------------------------------------
    async def receive(self, request: web.Request) -> web.Response:
        """One signed callback; a message is committed before the 200, 503 while the store is down."""
        try:
            raw = await read_bounded(request, MAX_BODY)
        except BodyTooLarge:
            return web.json_response({"error": "too large"}, status=413)
        expected = hmac.new(self._config.auth_token.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), request.headers.get(SIGNATURE_HEADER, "").lower().encode()):
            log.warning("viber: bad or missing signature from %s", request.remote)
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            event = parse_json(raw)
            kind = str(event["event"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "malformed payload"}, status=400)
        if kind != "message":
            # "webhook" (the set-up check), receipts, subscribed / unsubscribed, conversation_started:
            # nothing to store; a conversation is opened when the client actually writes.
            user = event.get("user") if isinstance(event.get("user"), dict) else {"id": event.get("user_id")}
            if kind == "conversation_started" and user.get("id") and event.get("context"):
                self._remember(str(user["id"]), str(event["context"]))
            log.info("viber: %s event%s acknowledged", kind, f" from {user['id']}" if user.get("id") else "")
            return web.json_response({"status": 0})
        try:
            parsed = parse_message(event, self._config.region)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("viber: unreadable message skipped: %s", exc)
            return web.json_response({"status": 0})
        contact = parsed.contact
        if parsed.media is not None:
            contact = replace(contact, attachments=(await self._media(parsed.media),))
        context = self._contexts.get(contact.source_id)
        if context is not None:       # the deep link the client came by is the lead's source
            contact = replace(contact, attributes={**source_attributes(context), **contact.attributes})
        try:
            await self._emit(contact)
        except IntakeUnavailable:
            return web.json_response({"error": "try again later"}, status=503)     # Viber retries
        self._contexts.pop(contact.source_id, None)
        return web.json_response({"status": 0})

    def _remember(self, user_id: str, context: str) -> None:
        # In memory: a restart between the deep link and the first message loses only the source.
        self._contexts[user_id] = context
        self._contexts.move_to_end(user_id)
        while len(self._contexts) > MAX_CONTEXTS:
            self._contexts.popitem(last=False)

    async def _media(self, ref: MediaRef) -> Attachment:
        limit = self._config.max_file_bytes
        if ref.size is not None and ref.size > limit:
            return Attachment(ref.filename, ref.content_type, ref.size)       # listed, not downloaded
        if self.http is None:
            await self.start()
        assert self.http is not None
        try:
            return await fetch_attachment(self.http, ref.url, filename=ref.filename,
                                          content_type=ref.content_type, limit=limit)
        except TimeoutError:
            log.warning("viber: media %s timed out", ref.filename)
            return Attachment(ref.filename, ref.content_type, ref.size or 0)


class ViberResponder:
    """Text replies through `POST {base_url}/pa/send_message`; failures come back as Delivery."""

    channel = VIBER

    def __init__(self, config: ViberConfig, channel: ViberChannel) -> None:
        self._config = config
        self._channel = channel

    async def send(self, message: OutboundMessage) -> Delivery:
        """Send `message.text` to the Viber user id in `thread_ref` (or `to`)."""
        try:
            answer = await self._channel.call("send_message", {
                "receiver": message.thread_ref or message.to, "type": "text", "text": message.text,
                "sender": {"name": self._config.sender_name[:28]}, "min_api_version": 1})
        except ViberError as exc:
            return Delivery(ok=False, error=exc.status_message,
                            retryable=exc.status in RETRYABLE or exc.status == -1)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return Delivery(ok=False, error=f"Viber unreachable: {exc or type(exc).__name__}", retryable=True)
        return Delivery(ok=True, provider_id=str(answer.get("message_token") or "") or None)


def build(config: ViberConfig, context: BuildContext) -> ChannelParts:
    """`[viber]`: the callback route, the client registering the webhook (any process may), and replies."""
    config = config.in_region(context.region)
    channel = ViberChannel(config, context.emit)
    return ChannelParts(routes=tuple(channel.routes()), responders=(ViberResponder(config, channel),),
                        listeners=(Listening(VIBER, channel),))
