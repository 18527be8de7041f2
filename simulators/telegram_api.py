"""A Telegram Bot API on 127.0.0.1 that the real python-telegram-bot talks to: the demo's bot and the tests' peer."""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token"
BOT = {"id": 123456, "is_bot": True, "first_name": "Shop", "username": "shop_bot"}


class FakeBotApi:
    """getMe, deleteWebhook, setWebhook, getUpdates (long poll, offsets, at most 100), sendMessage, getFile, files."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.offsets: list[int] = []              # every offset a getUpdates asked with
        self.sent: list[dict[str, str]] = []
        self.blocked: set[str] = set()            # chat ids whose users blocked the bot
        self.files: dict[str, bytes] = {}
        self.file_sizes: dict[str, int] = {}      # what getFile reports, when it should differ from the bytes
        self.downloads: list[str] = []            # file ids fetched through the file URL
        self.webhook: dict[str, str] = {}         # the last setWebhook's form
        self._ids = itertools.count(1)
        self._new = asyncio.Condition()
        self._closing = False
        self.port = 0

    def push(self, update: dict[str, Any]) -> int:
        update_id = next(self._ids)
        self.updates.append({"update_id": update_id, **update})
        asyncio.get_running_loop().create_task(self._notify())
        return update_id

    async def close(self) -> None:
        """End pending long polls at once (before the server's cleanup, which waits for them)."""
        self._closing = True
        await self._notify()

    async def _notify(self) -> None:
        async with self._new:
            self._new.notify_all()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.method)
        app.router.add_get("/file/bot{token}/{path:.*}", self.download)
        return app

    async def method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        form = dict(await request.post())
        handler = getattr(self, f"_{request.match_info['method']}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return await handler(form)

    async def _getMe(self, form: dict[str, str]) -> web.Response:
        return web.json_response({"ok": True, "result": BOT})

    async def _deleteWebhook(self, form: dict[str, str]) -> web.Response:
        return web.json_response({"ok": True, "result": True})

    async def _getUpdates(self, form: dict[str, str]) -> web.Response:
        offset = int(form.get("offset", 0))
        self.offsets.append(offset)
        if offset > 0:      # like Telegram: an offset confirms, and forgets, every update below it
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        timeout = min(float(form.get("timeout", 0)), 1.0)     # long poll, kept short for tests

        limit = max(1, min(int(form.get("limit", 100)), 100))     # Telegram serves at most 100 at a time

        def ready() -> list[dict[str, Any]]:
            return [u for u in self.updates if u["update_id"] >= offset][:limit]

        if not ready() and timeout:
            async with self._new:
                try:
                    await asyncio.wait_for(self._new.wait_for(lambda: bool(ready()) or self._closing), timeout)
                except TimeoutError:
                    pass
        return web.json_response({"ok": True, "result": ready()})

    async def _sendMessage(self, form: dict[str, str]) -> web.Response:
        if form["chat_id"] in self.blocked:
            return web.json_response({"ok": False, "error_code": 403,
                                      "description": "Forbidden: bot was blocked by the user"}, status=403)
        self.sent.append(form)
        return web.json_response({"ok": True, "result": {
            "message_id": 1000 + len(self.sent), "date": 1_800_000_000, "text": form["text"],
            "chat": {"id": int(form["chat_id"]), "type": "private"}}})

    async def _setWebhook(self, form: dict[str, str]) -> web.Response:
        self.webhook = form
        return web.json_response({"ok": True, "result": True, "description": "Webhook was set"})

    async def _getFile(self, form: dict[str, str]) -> web.Response:
        file_id = form["file_id"]
        if file_id not in self.files:
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: invalid file_id"}, status=400)
        return web.json_response({"ok": True, "result": {
            "file_id": file_id, "file_unique_id": f"u-{file_id}",
            "file_size": self.file_sizes.get(file_id, len(self.files[file_id])),
            "file_path": f"documents/{file_id}.bin"}})

    async def download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].split("/")[-1].removesuffix(".bin")
        self.downloads.append(file_id)
        return web.Response(body=self.files.get(file_id, b""))


def message(chat: int, text: str | None = None, message_id: int = 1, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"message_id": message_id, "date": 1_800_000_000,
                            "chat": {"id": chat, "type": "private", "first_name": "Ирина"},
                            "from": {"id": chat, "is_bot": False, "first_name": "Ирина", "last_name": "К."}}
    if text is not None:
        body["text"] = text
    body.update(extra)
    return body


def as_json(update: dict[str, Any]) -> str:
    return json.dumps(update)


@contextlib.asynccontextmanager
async def running_bot_api() -> AsyncIterator[FakeBotApi]:
    """A FakeBotApi listening on 127.0.0.1 (its `port` set); its long polls ended before the server stops."""
    fake = FakeBotApi()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        fake.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        yield fake
    finally:
        await fake.close()
        await runner.cleanup()
