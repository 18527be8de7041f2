"""The reminder timer, opened and closed with the application."""
from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.keys import CLOCK, HUB, NOTIFIER, RESPONDERS, ROUTING, SESSIONS, SETTINGS, TASK_CHANGED
from gateway.tasks.delivery import ReminderDelivery
from gateway.tasks.reminders import ReminderTimer

REMINDERS = web.AppKey("reminders", ReminderTimer)


def mount(app: web.Application) -> None:
    app.cleanup_ctx.append(_reminders)


async def _reminders(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS].tasks
    deliver = ReminderDelivery(app[SESSIONS], app[NOTIFIER], app[HUB], app[ROUTING].agent, app[RESPONDERS],
                               settings.public_url, app[CLOCK])
    async with ReminderTimer(app[SESSIONS], app[CLOCK], deliver, batch=settings.timer_batch,
                             recheck_seconds=settings.recheck_seconds) as timer:
        app[REMINDERS] = timer
        app[TASK_CHANGED] = timer.changed
        yield
