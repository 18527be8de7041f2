"""Voice on when `[ami]` is set: the adapter, the service that carries its events out, FastAGI if `[agi]` is set."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from channels.asterisk.adapter import AmiAdapter, PbxUnavailable
from channels.asterisk.agi import AgiRouteServer
from channels.asterisk.config import AmiConfig
from channels.asterisk.types import CallEvent, CallRinging
from crm_store import calls
from gateway.keys import AMI, HUB, INGESTOR, METRICS, NOTIFIER, ROUTING, SCREENS, SESSIONS, VOICE, WALLBOARD
from gateway.settings import Settings
from gateway.voice.cards import CardReader
from gateway.voice.chooser import VoiceChooser
from gateway.voice.lease import VOICE_LEASE, VoiceLease
from gateway.voice.service import VoiceService
from routing.types import Presence


def mount(app: web.Application, settings: Settings) -> None:
    """Run voice with the app when `[ami]` or `[agi]` is set (both were checked when the settings loaded)."""
    ami = settings.ami.in_region(settings.phone.region) if settings.ami is not None else None
    agi = settings.agi
    if ami is None and agi is None:
        return

    async def voice(app: web.Application) -> AsyncIterator[None]:
        cards = CardReader(settings.database.url, app[SESSIONS])
        service = VoiceService(app[SESSIONS], app[INGESTOR], app[ROUTING], app[NOTIFIER], settings.routing, cards)
        service.on_pop = app[METRICS].popped
        app[VOICE] = service
        app[HUB].on_connect.append(service.on_connect)
        app[WALLBOARD].extras.append(service.wallboard)
        adapter = await _start_adapter(app, ami, service) if ami is not None else None
        lease = _lease(settings, service, adapter) if adapter is not None else None
        if lease is not None:
            app[VOICE_LEASE] = lease
        leasing = asyncio.create_task(lease.run()) if lease is not None else None
        server = None
        if agi is not None:
            server = AgiRouteServer(VoiceChooser(app[SESSIONS], app[ROUTING], settings.phone.region),
                                    host=agi.host, port=agi.port, budget_seconds=agi.budget_seconds)
            await server.start()
        try:
            yield
        finally:
            if leasing is not None and lease is not None:
                leasing.cancel()
                await asyncio.gather(leasing, return_exceptions=True)
                await lease.close()
            if server is not None:
                await server.stop()
            if adapter is not None:
                await adapter.stop()
            await service.close()
            await cards.close()

    app.cleanup_ctx.append(voice)


def _lease(settings: Settings, service: VoiceService, adapter: AmiAdapter) -> VoiceLease | None:
    """With Redis (several processes), only the lease holder acts on PBX events; alone, this process does."""
    if not settings.redis.url:
        return None
    service.active = False

    async def gain() -> None:
        service.active = True
        adapter.resync()          # report the calls already in progress as if they had just begun

    async def loss() -> None:
        service.active = False
        service.calls.clear()

    redis = Redis.from_url(settings.redis.url, decode_responses=True)
    return VoiceLease(redis, f"{settings.redis.prefix}voice:lease", on_gain=gain, on_loss=loss)


async def _start_adapter(app: web.Application, config: AmiConfig, service: VoiceService) -> AmiAdapter:
    sessions = app[SESSIONS]

    async def extensions() -> set[str]:
        async with sessions() as session:
            return set((await calls.users_with_extensions(session)).values())

    known = await extensions()
    # Phones of Switchboard users are agents; every other device (trunks, fax, test phones) is a caller.
    # A short number is taken for a desk phone too, so that a user added later pops without a restart.
    metrics = app[METRICS]

    def on_event(event: CallEvent) -> None:
        if isinstance(event, CallRinging):       # the clock of the screen pop starts here
            metrics.ring_received(event.call_id, event.extension)
        service.on_event(event)

    adapter = AmiAdapter(config, on_event, is_agent=lambda ext: ext in known or (ext.isdigit() and len(ext) <= 6))
    app[AMI] = adapter
    app[SCREENS].presence_listeners.append(_queue_pause(adapter, sessions))
    await adapter.start()
    return adapter


def _queue_pause(adapter: AmiAdapter, sessions: Any) -> Callable[[int, Presence, str | None], Awaitable[None]]:
    """Presence set on the screen follows to the PBX: a break pauses the operator in every queue, with the reason."""

    async def follow(user_id: int, presence: Presence, reason: str | None) -> None:
        async with sessions() as session:
            extension = (await calls.users_with_extensions(session)).get(user_id)
        if extension is None:
            return
        try:
            await adapter.queue_pause(extension, presence is not Presence.AVAILABLE, reason or presence.value)
        except PbxUnavailable:
            pass        # reconciliation on reconnect reads the PBX's pause state back

    return follow
