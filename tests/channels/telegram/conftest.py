"""Telegram fixtures: the simulated Bot API on 127.0.0.1, which the real python-telegram-bot talks to."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from simulators.telegram_api import FakeBotApi


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake
    await fake.close()
    await runner.cleanup()
