"""Which channels run: a registry of the channels' own `build` functions, one per settings section.

Each build takes its section, typed and checked when the settings loaded (a bad value stopped the
start there, naming the key), and returns routes, responders and listeners; the routes are added before start-up, the listeners run in the background
(gateway/listeners.py), so no channel's peer can hold up the others or the start.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis

from channels import webform
from channels.email import plug as email
from channels.plug import Build, BuildContext, ChannelParts, Listening
from channels.telegram import adapter as telegram
from channels.types import Accepted, InboundContact
from channels.viber import adapter as viber
from channels.whatsapp import adapter as whatsapp
from gateway.keys import INTAKE, RESPONDERS
from gateway.listeners import ListenerRunner
from gateway.settings import Settings

# Settings section -> the channel's build. [forms] always holds the `default` form.
REGISTRY: tuple[tuple[str, Build], ...] = (
    ("forms", webform.build),
    ("smtp", email.build_intake),
    ("imap", email.build_mailboxes),
    ("email", email.build_replies),
    ("telegram", telegram.build),
    ("whatsapp", whatsapp.build),
    ("viber", viber.build),
)
LISTENERS = web.AppKey("channel_listeners", ListenerRunner)


def build_all(settings: Settings, context: BuildContext) -> list[ChannelParts]:
    """Every configured channel's parts (an unset section is None, an empty table of tables {})."""
    return [build(section, context) for name, build in REGISTRY if (section := getattr(settings, name))]


def mount(app: web.Application, settings: Settings) -> None:
    """Register the channels' routes and responders now; run their listeners with the app."""

    async def emit(contact: InboundContact) -> Accepted:
        # Routes and listeners are fixed before start-up; the intake exists once the store is open.
        return await app[INTAKE].emit(contact)

    context = BuildContext(emit=emit, region=settings.phone.region, storage_dir=Path(settings.storage.dir),
                           trusted_proxies=tuple(settings.http.trusted_proxies))
    listeners: list[Listening] = []
    for parts in build_all(settings, context):
        app.router.add_routes(parts.routes)
        for responder in parts.responders:
            app[RESPONDERS][responder.channel] = responder
        listeners += parts.listeners
    if not listeners:
        return

    async def channel_listeners(app: web.Application) -> AsyncIterator[None]:
        # After the store and routing (cleanup contexts run in order), before them on the way down.
        redis = Redis.from_url(settings.redis.url) if settings.redis.url else None
        runner = ListenerRunner(listeners, redis=redis, prefix=settings.redis.prefix)
        app[LISTENERS] = runner
        runner.start()
        try:
            yield
        finally:
            await runner.stop()
            if redis is not None:
                await redis.aclose()

    app.cleanup_ctx.append(channel_listeners)
