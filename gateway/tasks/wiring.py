"""The reminder timer and the response clocks, opened and closed with the application."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from channels.types import InboundContact
from crm_store.types import IngestResult
from gateway.keys import (
    CLOCK, HUB, INTAKE, NOTIFIER, RESPONDERS, ROUTING, SESSIONS, SETTINGS, TASK_CHANGED, WALLBOARD,
)
from gateway.tasks.clocks import ResponseClocks
from gateway.tasks.delivery import ReminderDelivery
from gateway.tasks.reminders import ReminderTimer

log = logging.getLogger(__name__)

REMINDERS = web.AppKey("reminders", ReminderTimer)
CLOCKS = web.AppKey("response_clocks", ResponseClocks)


def mount(app: web.Application) -> None:
    app.cleanup_ctx.append(_reminders)
    app.cleanup_ctx.append(_clocks)


async def _reminders(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS].tasks
    deliver = ReminderDelivery(app[SESSIONS], app[NOTIFIER], app[HUB], app[ROUTING].agent, app[RESPONDERS],
                               settings.public_url, app[CLOCK])
    async with ReminderTimer(app[SESSIONS], app[CLOCK], deliver, batch=settings.timer_batch,
                             recheck_seconds=settings.recheck_seconds) as timer:
        app[REMINDERS] = timer
        app[TASK_CHANGED] = timer.changed
        yield


async def _clocks(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    clocks = ResponseClocks(app[SESSIONS], settings.clocks, app[CLOCK], app[ROUTING], app[NOTIFIER],
                            app[RESPONDERS], on_task=lambda task_id, due: app[TASK_CHANGED](task_id, due))
    app[CLOCKS] = clocks
    if not settings.clocks:
        yield
        return
    app[WALLBOARD].extras.append(clocks.wallboard)

    async def after_hours(contact: InboundContact, result: IngestResult) -> None:
        try:
            await clocks.after_hours(contact, result.lead_id)
        except Exception:
            log.exception("after-hours answer failed for lead %s", result.lead_id)

    app[INTAKE].subscribe(after_hours)
    sweeper = asyncio.create_task(_sweep_forever(clocks, settings.tasks.sweep_seconds))
    try:
        yield
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper


async def _sweep_forever(clocks: ResponseClocks, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await clocks.sweep()
        except Exception:
            log.exception("response clock sweep failed")
