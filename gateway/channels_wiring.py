"""Which channels run, and how each is plugged into the intake: one place, by settings."""
from __future__ import annotations

from aiohttp import web

from channels.types import Accepted, InboundContact
from gateway.keys import INTAKE
from gateway.settings import Settings


def mount(app: web.Application, settings: Settings) -> None:
    """Register the routes of the HTTP channels; listeners start with the app's cleanup contexts."""

    async def emit(contact: InboundContact) -> Accepted:
        # Routes are fixed before start-up; the intake exists only once the store is open.
        return await app[INTAKE].emit(contact)

    del emit  # web forms are wired in once channels.webform lands
