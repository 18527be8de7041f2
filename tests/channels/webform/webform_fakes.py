"""Fakes for the web-form tests: an emit that records, one that fails, a clock tests move."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from channels.types import Accepted, InboundContact, IntakeUnavailable

PHONE = "+79123456789"
SHOP = "https://shop.example"


class RecordingEmit:
    """Stores what it is given and answers like the intake: the same event id gets the same lead."""

    def __init__(self) -> None:
        self.contacts: list[InboundContact] = []
        self._leads: dict[tuple[str, str], int] = {}

    async def __call__(self, contact: InboundContact) -> Accepted:
        self.contacts.append(contact)
        key = (contact.channel, contact.event_id)
        duplicate = key in self._leads
        lead_id = self._leads.setdefault(key, 100 + len(self._leads))
        return Accepted(lead_id, contact_id=lead_id, interaction_id=len(self.contacts), duplicate=duplicate)


class UnavailableEmit:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, contact: InboundContact) -> Accepted:
        self.calls += 1
        raise IntakeUnavailable("database is down")


MakeClient = Callable[..., Awaitable[TestClient]]


async def error_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body["error"]) == {"code", "field", "message"}
    return body["error"]


