"""Which channels run, and how each is plugged into the intake: one place, by settings."""
from __future__ import annotations

from aiohttp import web

from channels.types import Accepted, InboundContact
from channels.webform.adapter import WebFormChannel
from channels.webform.config import forms_from_mapping
from gateway.keys import INTAKE
from gateway.settings import Settings, SettingsError


def mount(app: web.Application, settings: Settings) -> None:
    """Register the routes of the HTTP channels; listeners start with the app's cleanup contexts."""

    async def emit(contact: InboundContact) -> Accepted:
        # Routes are fixed before start-up; the intake exists only once the store is open.
        return await app[INTAKE].emit(contact)

    try:
        forms = forms_from_mapping(settings.forms)
    except ValueError as exc:
        raise SettingsError(f"invalid settings: forms: {exc}") from exc
    WebFormChannel(forms, emit, region=settings.phone.region,
                   trusted_proxies=settings.http.trusted_proxies).add_routes(app)
