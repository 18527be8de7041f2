"""Telegram through python-telegram-bot's `Bot`: long polling (default) or a webhook; acknowledged after commit.

Why our own polling loop and not PTB's `Updater`: the Updater puts a fetched batch on a queue and
sets its next offset to `last update_id + 1` at once (telegram/ext/_updater.py), so the next
getUpdates confirms updates whose handlers have not finished, or failed. A store outage would
then lose them. Here `getUpdates` is called with the real PTB `Bot` and the offset moves past an
update only once its contact is committed (`emit` returned); an `IntakeUnavailable` keeps the
offset where it is and Telegram serves the update again. Updates of one chat are handled in order,
different chats in parallel.

Why not `Application.process_update` in webhook mode: it hands handler exceptions to error
handlers and returns normally, so the webhook could not answer 503 when the store is down. The
webhook decodes with `Update.de_json` and awaits the same `handle` the polling loop uses.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from aiohttp import web
from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from channels.backoff import Backoff
from channels.plug import BuildContext, ChannelParts, Listening
from channels.telegram.config import TelegramConfig
from channels.telegram.parse import FileRef, parse_update
from channels.telegram.responder import TelegramResponder
from channels.http_body import BodyTooLarge, parse_json, read_bounded
from channels.types import Attachment, Emit, IntakeUnavailable
from vocabulary.channels import TELEGRAM

__all__ = ["SECRET_HEADER", "TelegramChannel", "TelegramConfig", "TelegramResponder", "build", "make_bot"]

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
UPDATES = ["message", "edited_message"]     # everything else is not a client writing to us
MAX_WEBHOOK_BODY = 1024 * 1024
# An update whose handling fails for another reason than the store (a bug, a contact the pipeline
# refuses) is tried this often, then logged and skipped, so one poison update cannot stop the bot.
MAX_ATTEMPTS = 5


def make_bot(config: TelegramConfig) -> Bot:
    """The PTB Bot for `config`; long polls get their own connection with room beyond poll_timeout."""
    return Bot(config.token, base_url=config.base_url, base_file_url=config.base_file_url,
               request=HTTPXRequest(read_timeout=30, connect_timeout=10, pool_timeout=10),
               get_updates_request=HTTPXRequest(read_timeout=config.poll_timeout + 10, connect_timeout=10))


class TelegramChannel:
    """One bot: `start()` checks the token (getMe) and polls or registers the webhook; `stop()` ends it."""

    name = TELEGRAM

    def __init__(self, config: TelegramConfig, emit: Emit, bot: Bot | None = None) -> None:
        self._config = config
        self._emit = emit
        self.bot = bot or make_bot(config)
        self._task: asyncio.Task[None] | None = None
        self._attempts: dict[int, int] = {}
        self.retry_delay = 1.0   # first pause after a failed poll, doubled up to 30 s
        self.connected = False   # the Bot API answered the last call: for /readyz
        self.last_error: str | None = None
        self.offset = 0          # the next getUpdates' offset: every update below it is committed

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """getMe, then poll in the background or register the webhook.

        A refused token raises here (a permanent error: fix the settings); an unreachable Bot API
        does not stop the service starting: the bot connects in the background when it can.
        """
        try:
            await self._connect()
        except InvalidToken:
            raise
        except TelegramError as exc:
            self.last_error = str(exc)
            log.warning("telegram: Bot API unreachable at start (%s); connecting in the background", exc)
            self._task = asyncio.create_task(self._run(connected=False), name="telegram.connect")
            return
        if self._config.mode == "polling":
            self._task = asyncio.create_task(self._run(connected=True), name="telegram.poll")

    async def stop(self) -> None:
        """Stop polling (an update in flight is not confirmed and comes again) and close the bot."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.bot.shutdown()

    async def _connect(self) -> None:
        self.connected = False
        await self.bot.initialize()                  # getMe: checks the token
        if self._config.mode == "polling":
            await self.bot.delete_webhook()          # getUpdates is refused while a webhook is set
        elif self._config.webhook_url:
            await self.bot.set_webhook(self._config.webhook_url, secret_token=self._config.secret_token,
                                       allowed_updates=UPDATES)
        self.connected, self.last_error = True, None

    async def _run(self, *, connected: bool) -> None:
        backoff = Backoff(self.retry_delay, 30.0)
        while not connected:
            await backoff.sleep()
            try:
                await self._connect()
                connected = True
                log.info("telegram: connected to the Bot API")
            except InvalidToken:
                log.error("telegram: the bot token was refused; the bot stays off")
                return
            except TelegramError as exc:
                self.last_error = str(exc)
                log.warning("telegram: Bot API still unreachable: %s", exc)
        if self._config.mode == "polling":
            await self._poll()

    def routes(self) -> list[web.RouteDef]:
        """The webhook routes in webhook mode; nothing in polling mode."""
        if self._config.mode != "webhook":
            return []
        path = self._config.webhook_path
        return [web.post(path, self.webhook), web.post(path + "/{secret_path}", self.webhook)]

    def add_routes(self, target: web.Application | web.UrlDispatcher) -> None:
        """Register `routes()` on an application or its router."""
        (target.router if isinstance(target, web.Application) else target).add_routes(self.routes())

    # -- polling --------------------------------------------------------------------------------
    async def _poll(self) -> None:
        backoff = Backoff(self.retry_delay, 30.0)
        while True:
            try:
                await self._handle_batch(await self._get_updates())
                self.connected, self.last_error = True, None
                backoff.reset()
                continue
            except asyncio.CancelledError:
                raise
            except IntakeUnavailable as exc:
                log.warning("telegram: store unavailable, update %s will come again: %s", self.offset, exc)
            except InvalidToken:
                self.connected, self.last_error = False, "the bot token was refused"
                log.error("telegram: the bot token was refused; polling stops")
                return
            except Conflict as exc:
                self.last_error = f"Conflict: {exc}"
                log.error("telegram: another poller or a webhook holds this bot (%s); retrying", exc)
            except Exception as exc:    # network, Telegram 5xx, a handler bug: keep going
                self.connected, self.last_error = False, f"{type(exc).__name__}: {exc}"
                log.warning("telegram polling: %s; retrying", exc)
            await backoff.sleep()

    async def _get_updates(self) -> list[dict[str, Any]]:
        # Raw JSON, decoded one update at a time: `Bot.get_updates` decodes the whole batch, so one
        # update the library cannot read would fail every poll from then on.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PTBUserWarning)
            batch = await self.bot.do_api_request("getUpdates", api_kwargs={
                "offset": self.offset, "timeout": self._config.poll_timeout, "allowed_updates": UPDATES})
        return [raw for raw in batch or [] if isinstance(raw, dict) and isinstance(raw.get("update_id"), int)]

    async def _handle_batch(self, batch: list[dict[str, Any]]) -> None:
        """Chats in parallel, each chat in order; the offset passes only what is committed."""
        chats: dict[Any, list[dict[str, Any]]] = {}
        for raw in batch:
            chats.setdefault(_chat_of(raw), []).append(raw)
        results = await asyncio.gather(*(self._handle_chat(u) for u in chats.values()), return_exceptions=True)
        failures = [r for r in results if isinstance(r, _ChatFailed)]
        others = [r for r in results if isinstance(r, BaseException) and not isinstance(r, _ChatFailed)]
        if others:
            raise others[0]
        if failures:
            # Everything before the first failure is committed; what follows comes again and is
            # recognised by its event id.
            first = min(failures, key=lambda f: f.update_id)
            self.offset = max(self.offset, first.update_id)
            raise first.cause
        if batch:
            self.offset = max(self.offset, batch[-1]["update_id"] + 1)   # confirmed by the next poll
        self._attempts = {k: v for k, v in self._attempts.items() if k >= self.offset}

    async def _handle_chat(self, updates: list[dict[str, Any]]) -> None:
        for raw in updates:
            # Decoded here, not before the gather: one chat's commit runs while the next decodes.
            update_id, update = raw["update_id"], self._decode(raw)
            if update is None:
                continue
            try:
                await self.handle(update)
            except IntakeUnavailable as exc:
                raise _ChatFailed(update_id, exc) from exc
            except Exception as exc:
                tries = self._attempts[update_id] = self._attempts.get(update_id, 0) + 1
                if tries < MAX_ATTEMPTS:
                    raise _ChatFailed(update_id, exc) from exc
                log.error("telegram: update %s failed %d times, skipped", update_id, tries, exc_info=exc)

    def _decode(self, raw: Mapping[str, Any]) -> Update | None:
        try:
            return Update.de_json(dict(raw), self.bot)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            log.warning("telegram: update %s cannot be read, skipped: %s", raw.get("update_id"), exc)
            return None

    # -- one update -----------------------------------------------------------------------------
    async def handle(self, update: Update) -> None:
        """Commit the contact an update brings (files fetched first); other kinds are logged and skipped."""
        parsed = parse_update(update, region=self._config.region)
        if parsed is None:
            log.info("telegram: update %s of an unhandled kind skipped", update.update_id)
            return
        attachments = tuple([await self._fetch(ref) for ref in parsed.files])
        contact = replace(parsed.contact, attachments=attachments) if attachments else parsed.contact
        await self._emit(contact)

    async def _fetch(self, ref: FileRef) -> Attachment:
        """The file via getFile, if within max_file_bytes; otherwise (or unreachable) listed with its size."""
        limit = self._config.max_file_bytes
        if ref.size is not None and ref.size > limit:
            return Attachment(ref.filename, ref.content_type, ref.size)
        try:
            file = await self.bot.get_file(ref.file_id)
            if file.file_size is not None and file.file_size > limit:
                return Attachment(ref.filename, ref.content_type, file.file_size)
            content = bytes(await file.download_as_bytearray())
        except TelegramError as exc:      # "file is too big" (over 20 MB) comes as a BadRequest
            log.warning("telegram: file %s not fetched: %s", ref.file_id, exc)
            return Attachment(ref.filename, ref.content_type, ref.size or 0, ref=f"telegram:{ref.file_id}")
        if len(content) > limit:
            return Attachment(ref.filename, ref.content_type, len(content))
        return Attachment(ref.filename, ref.content_type, len(content), content)

    # -- webhook --------------------------------------------------------------------------------
    async def webhook(self, request: web.Request) -> web.Response:
        """Telegram's POST: secret checked, update committed, then 200; 503 makes Telegram retry."""
        expected_path = self._config.secret_path
        if expected_path is not None and not hmac.compare_digest(
                request.match_info.get("secret_path", ""), expected_path):
            raise web.HTTPNotFound()
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), (self._config.secret_token or "").encode()):
            log.warning("telegram webhook: wrong secret token from %s", request.remote)
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            raw = await read_bounded(request, MAX_WEBHOOK_BODY)
        except BodyTooLarge:
            return web.json_response({"error": "too large"}, status=413)
        try:
            data = parse_json(raw)
        except ValueError:
            return web.json_response({"error": "malformed update"}, status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.json_response({"error": "malformed update"}, status=400)
        update = self._decode(data)
        if update is None:       # Telegram's own update we cannot read: retrying would not help
            return web.json_response({"ok": True, "skipped": True})
        try:
            await self.handle(update)
        except IntakeUnavailable:
            return web.json_response({"error": "try again later"}, status=503)
        except Exception:
            log.exception("telegram webhook: update %s failed", data["update_id"])
            return web.json_response({"error": "internal error"}, status=500)   # Telegram retries, then gives up
        return web.json_response({"ok": True})


def build(config: TelegramConfig, context: BuildContext) -> ChannelParts:
    """`[telegram]`: the webhook routes or the polling listener (one process polls a bot), and replies."""
    config = config.in_region(context.region)
    channel = TelegramChannel(config, context.emit)
    polling = config.mode == "polling"
    return ChannelParts(routes=tuple(channel.routes()), responders=(TelegramResponder(channel.bot),),
                        listeners=(Listening(TELEGRAM, channel, exclusive=polling),))

def _chat_of(raw: Mapping[str, Any]) -> Any:
    """The chat an undecoded update belongs to (None for kinds without one): the unit of ordering."""
    for body in raw.values():
        if isinstance(body, dict) and isinstance(body.get("chat"), dict):
            return body["chat"].get("id")
    return None


class _ChatFailed(Exception):
    def __init__(self, update_id: int, cause: Exception) -> None:
        super().__init__(str(cause))
        self.update_id = update_id
        self.cause = cause
