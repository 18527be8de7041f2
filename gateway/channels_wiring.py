"""Which channels run, and how each is plugged into the intake: one place, by settings."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from channels.email.config import imap_from_mapping, outbound_from_mapping, smtp_from_mapping
from channels.email.imap_poller import ImapPoller, UidFile
from channels.email.send import EmailResponder
from channels.email.smtp_handler import SmtpIntake
from channels.types import Accepted, InboundContact
from channels.webform.adapter import WebFormChannel
from channels.webform.config import forms_from_mapping
from gateway.keys import INTAKE, RESPONDERS
from gateway.settings import Settings, SettingsError


def mount(app: web.Application, settings: Settings) -> None:
    """Register the HTTP channels' routes and the listeners' lifecycles; fail early on bad tables."""

    async def emit(contact: InboundContact) -> Accepted:
        # Routes and listeners are fixed before start-up; the intake exists once the store is open.
        return await app[INTAKE].emit(contact)

    region = settings.phone.region
    try:
        forms = forms_from_mapping(settings.forms)
        smtp = smtp_from_mapping(settings.smtp, region) if settings.smtp else None
        mailboxes = imap_from_mapping(settings.imap, region)
        outbound = outbound_from_mapping(settings.email) if settings.email else None
    except ValueError as exc:
        raise SettingsError(f"invalid settings: {exc}") from exc
    WebFormChannel(forms, emit, region=region, trusted_proxies=settings.http.trusted_proxies).add_routes(app)
    if outbound is not None:
        app[RESPONDERS]["email"] = EmailResponder(outbound)
    if smtp is None and not mailboxes:
        return
    state = UidFile(Path(settings.storage.dir) / "imap-uids.json")

    async def email_listeners(_: web.Application) -> AsyncIterator[None]:
        listeners: list[SmtpIntake | ImapPoller] = [ImapPoller(box, emit, state) for box in mailboxes]
        if smtp is not None:
            listeners.insert(0, SmtpIntake(smtp, emit))
        for listener in listeners:
            await listener.start()
        yield
        for listener in reversed(listeners):
            await listener.stop()

    app.cleanup_ctx.append(email_listeners)
