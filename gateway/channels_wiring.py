"""Which channels run, and how each is plugged into the intake: one place, by settings."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from aiohttp import web

from channels.email.config import imap_from_mapping, outbound_from_mapping, smtp_from_mapping
from channels.email.imap_poller import ImapPoller, UidFile
from channels.email.send import EmailResponder
from channels.email.smtp_handler import SmtpIntake
from channels.telegram import adapter as telegram
from channels.types import Accepted, Emit, InboundContact
from channels.viber import adapter as viber
from channels.webform.adapter import WebFormChannel
from channels.webform.config import forms_from_mapping
from channels.whatsapp import adapter as whatsapp
from gateway.keys import CHANNEL_LISTENERS, INTAKE, RESPONDERS
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
        messengers = _messengers(settings, emit)
    except ValueError as exc:
        raise SettingsError(f"invalid settings: {exc}") from exc
    WebFormChannel(forms, emit, region=region, trusted_proxies=settings.http.trusted_proxies).add_routes(app)
    if outbound is not None:
        app[RESPONDERS]["email"] = EmailResponder(outbound)
    for channel, responder in messengers:
        app.router.add_routes(channel.routes())
        app[RESPONDERS][responder.channel] = responder
    state = UidFile(Path(settings.storage.dir) / "imap-uids.json")
    listeners: list[Listener] = [channel for channel, _ in messengers]
    listeners += [SmtpIntake(smtp, emit)] if smtp is not None else []
    listeners += [ImapPoller(box, emit, state) for box in mailboxes]
    app[CHANNEL_LISTENERS] = listeners
    if not listeners:
        return

    async def channel_listeners(_: web.Application) -> AsyncIterator[None]:
        # Started after the store and routing (cleanup contexts run in order), stopped before them.
        for listener in listeners:
            await listener.start()
        yield
        for listener in reversed(listeners):
            await listener.stop()

    app.cleanup_ctx.append(channel_listeners)


class Listener(Protocol):
    """A channel that holds connections open: a bot polling, an SMTP server, a mailbox."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

Messenger = telegram.TelegramChannel | whatsapp.WhatsAppChannel | viber.ViberChannel
MessengerResponder = telegram.TelegramResponder | whatsapp.WhatsAppResponder | viber.ViberResponder


def _messengers(settings: Settings, emit: Emit) -> list[tuple[Messenger, MessengerResponder]]:
    """The configured messengers, each with the responder that answers through it."""
    region = settings.phone.region
    found: list[tuple[Messenger, MessengerResponder]] = []
    if settings.telegram:
        bot = telegram.TelegramChannel(telegram.config_from_mapping(settings.telegram, region), emit)
        found.append((bot, telegram.TelegramResponder(bot.bot)))
    if settings.whatsapp:
        config = whatsapp.config_from_mapping(settings.whatsapp, region)
        wa = whatsapp.WhatsAppChannel(config, emit)
        found.append((wa, whatsapp.WhatsAppResponder(config, wa)))
    if settings.viber:
        vconfig = viber.config_from_mapping(settings.viber, region)
        vb = viber.ViberChannel(vconfig, emit)
        found.append((vb, viber.ViberResponder(vconfig, vb)))
    return found
