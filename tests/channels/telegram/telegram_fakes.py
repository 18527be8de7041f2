"""Helpers for the Telegram tests: a recording emit, settings for the fake Bot API, a polling wait."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from channels.section import read_section
from channels.telegram.config import TelegramConfig
from simulators.telegram_api import TOKEN, FakeBotApi
from channels.types import Accepted, InboundContact, IntakeUnavailable


def config_of(table, region):
    return read_section(TelegramConfig, table, "telegram").in_region(region)


class RecordingEmit:
    """Records what is committed; `down` makes it fail like a store outage, `refuse` like a pipeline bug."""

    def __init__(self) -> None:
        self.contacts: list[InboundContact] = []
        self.calls: list[InboundContact] = []
        self.down = False
        self.down_for: set[str] = set()          # source ids (chats) whose contacts fail
        self.refuse: set[str] = set()            # event ids that raise a non-store error, always
        self.gate: asyncio.Event | None = None   # when set up, every emit waits for it

    async def __call__(self, contact: InboundContact) -> Accepted:
        self.calls.append(contact)
        if self.gate is not None:
            await self.gate.wait()
        if self.down or contact.source_id in self.down_for:
            raise IntakeUnavailable("database is down")
        if contact.event_id in self.refuse:
            raise ValueError(f"cannot map {contact.event_id}")
        self.contacts.append(contact)
        return Accepted(1, 1, len(self.contacts))

    def events(self) -> list[str]:
        return [c.event_id for c in self.contacts]


def telegram_settings(api: FakeBotApi, **extra: Any) -> TelegramConfig:
    return config_of({"token": TOKEN, "base_url": f"http://127.0.0.1:{api.port}/bot",
                                "base_file_url": f"http://127.0.0.1:{api.port}/file/bot", "poll_timeout": 1,
                                "max_file_bytes": 1000, **extra}, "RU")


async def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)
