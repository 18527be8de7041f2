"""Telegram fixtures: the simulated Bot API on 127.0.0.1, which the real python-telegram-bot talks to."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from simulators.telegram_api import FakeBotApi, running_bot_api


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    async with running_bot_api() as fake:
        yield fake
