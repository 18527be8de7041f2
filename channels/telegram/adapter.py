"""Telegram through python-telegram-bot's Bot: long polling (default) or a webhook; offsets after commit.

PTB's own Updater advances the update offset when it fetches the next batch, whatever became
of the previous one. We poll with `Bot.get_updates` ourselves and move the offset past an
update only once its contact is committed, so a store outage makes Telegram deliver it again.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from aiohttp import web
from telegram import Bot, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from channels.telegram.parse import FileRef, parse_update
from channels.types import Attachment, Delivery, Emit, IntakeUnavailable, OutboundMessage

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
UPDATES = ["message", "edited_message"]


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token: str
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: str = "polling"                 # or "webhook"
    secret_token: str | None = None       # webhook: Telegram sends it back in SECRET_HEADER
    webhook_path: str = "/telegram/webhook"
    max_file_bytes: int = 10 * 1024 * 1024
    poll_timeout: int = 25
    region: str = "RU"


def config_from_mapping(table: Mapping[str, Any], region: str) -> TelegramConfig:
    known = {f.name for f in fields(TelegramConfig)}
    unknown = set(table) - known
    if unknown:
        raise ValueError(f"telegram.{sorted(unknown)[0]}: unknown setting")
    if not table.get("token"):
        raise ValueError("telegram.token: required")
    values = {**table, "region": region}
    for key in ("max_file_bytes", "poll_timeout"):
        if key in values:
            values[key] = int(values[key])
    config = TelegramConfig(**values)
    if config.mode not in ("polling", "webhook"):
        raise ValueError("telegram.mode: polling or webhook")
    if config.mode == "webhook" and not config.secret_token:
        raise ValueError("telegram.secret_token: required in webhook mode, or anyone could post updates")
    return config


def make_bot(config: TelegramConfig) -> Bot:
    # Long polls hold a connection for poll_timeout seconds: give reads room beyond it.
    request = HTTPXRequest(read_timeout=config.poll_timeout + 10, connect_timeout=10)
    return Bot(config.token, base_url=config.base_url, base_file_url=config.base_file_url,
               request=request, get_updates_request=HTTPXRequest(read_timeout=config.poll_timeout + 10))


class TelegramChannel:
    def __init__(self, config: TelegramConfig, emit: Emit, bot: Bot | None = None) -> None:
        self._config = config
        self._emit = emit
        self.bot = bot or make_bot(config)
        self._task: asyncio.Task[None] | None = None
        self.offset = 0

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.bot.initialize()          # getMe: a wrong token fails here, at start-up
        if self._config.mode == "polling":
            await self.bot.delete_webhook()
            self._task = asyncio.create_task(self._poll(), name="telegram.poll")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.bot.shutdown()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self._config.webhook_path, self.webhook)] if self._config.mode == "webhook" else []

    # -- inbound --------------------------------------------------------------------------------
    async def _poll(self) -> None:
        delay = 1.0
        while True:
            try:
                # Raw JSON, parsed one update at a time: PTB parsing the whole batch would let one
                # malformed or newer-than-the-library update stop the bot for good.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", PTBUserWarning)   # "use Bot.get_updates": see above
                    batch = await self.bot.do_api_request("getUpdates", api_kwargs={
                        "offset": self.offset, "timeout": self._config.poll_timeout, "allowed_updates": UPDATES})
                await self._handle_batch(batch or [])
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except IntakeUnavailable as exc:
                log.warning("telegram: store unavailable, update %s will come again: %s", self.offset, exc)
            except (InvalidToken, Forbidden):
                log.error("telegram: the bot token was refused; polling stops")
                return
            except Exception as exc:    # network, Telegram 5xx, a bad update: keep going
                log.warning("telegram polling: %s; retrying in %.1fs", exc, delay)
            else:
                continue
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 30.0)

    async def _handle_batch(self, batch: list[dict[str, Any]]) -> None:
        """Chats in parallel, each chat in order; the offset passes only what is committed."""
        chats: dict[int | None, list[tuple[int, Update]]] = {}
        for raw in batch:
            update = self._decode(raw)
            if update is not None:
                chats.setdefault(update.effective_chat.id if update.effective_chat else None, []).append(
                    (int(raw["update_id"]), update))
        failures = [r for r in await asyncio.gather(*(self._handle_chat(u) for u in chats.values()),
                                                    return_exceptions=True) if r is not None]
        if failures:
            first_failed = min(f.update_id for f in failures if isinstance(f, _ChatFailed))
            # Everything before the first failure is committed; what follows comes again and
            # is recognised by its event id.
            self.offset = max(self.offset, first_failed)
            raise next((f.cause for f in failures if isinstance(f, _ChatFailed)), failures[0])
        if batch:
            self.offset = int(batch[-1]["update_id"]) + 1     # acknowledged with the next poll

    async def _handle_chat(self, updates: list[tuple[int, Update]]) -> None:
        for update_id, update in updates:
            try:
                await self.handle(update)
            except Exception as exc:
                raise _ChatFailed(update_id, exc) from exc

    def _decode(self, raw: Mapping[str, Any]) -> Update | None:
        try:
            return Update.de_json(dict(raw), self.bot)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            log.warning("telegram: update %s cannot be read, skipped: %s", raw.get("update_id"), exc)
            return None

    async def handle(self, update: Update) -> None:
        """Commit the contact an update brings (files fetched first); unknown kinds are skipped."""
        parsed = parse_update(update, region=self._config.region)
        if parsed is None:
            log.info("telegram: update %s of an unhandled kind skipped", update.update_id)
            return
        attachments = tuple([await self._fetch(ref) for ref in parsed.files])
        contact = replace(parsed.contact, attachments=attachments) if attachments else parsed.contact
        await self._emit(contact)

    async def _fetch(self, ref: FileRef) -> Attachment:
        if ref.size is not None and ref.size > self._config.max_file_bytes:
            return Attachment(ref.filename, ref.content_type, ref.size)     # listed, not downloaded
        try:
            file = await self.bot.get_file(ref.file_id)
            content = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("telegram: file %s not fetched: %s", ref.file_id, exc)
            return Attachment(ref.filename, ref.content_type, ref.size or 0)
        if len(content) > self._config.max_file_bytes:
            return Attachment(ref.filename, ref.content_type, len(content))
        return Attachment(ref.filename, ref.content_type, len(content), content)

    async def webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given, self._config.secret_token or ""):
            log.warning("telegram webhook: wrong secret token from %s", request.remote)
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            data = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "malformed update"}, status=400)
        update = self._decode(data) if isinstance(data, dict) and "update_id" in data else None
        if update is None:
            return web.json_response({"error": "malformed update"}, status=400)
        try:
            await self.handle(update)
        except IntakeUnavailable:
            return web.json_response({"error": "try again later"}, status=503)   # Telegram retries
        return web.json_response({"ok": True})


class _ChatFailed(Exception):
    def __init__(self, update_id: int, cause: Exception) -> None:
        super().__init__(str(cause))
        self.update_id = update_id
        self.cause = cause


class TelegramResponder:
    channel = "telegram"

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def send(self, message: OutboundMessage) -> Delivery:
        try:
            sent = await self._bot.send_message(chat_id=message.thread_ref or message.to, text=message.text)
        except Forbidden as exc:
            return Delivery(ok=False, error=_reason(exc, "the client blocked the bot"))
        except BadRequest as exc:
            return Delivery(ok=False, error=_reason(exc, "Telegram refused the message"))
        except NetworkError as exc:
            return Delivery(ok=False, error=f"Telegram unreachable: {exc}", retryable=True)
        return Delivery(ok=True, provider_id=str(sent.message_id))


def _reason(exc: TelegramError, fallback: str) -> str:
    text = str(exc.message or "").strip()
    return text[0].lower() + text[1:] if text else fallback
