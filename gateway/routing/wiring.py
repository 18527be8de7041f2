"""Live routing assembled: the state backend (in process, or Redis shared by several processes), the
engine, its driver, the screens' handlers and the wallboard, hooked to the hub."""
from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.asyncio import Redis

from crm_store import users as user_store
from crm_store.session import Sessions
from gateway.fanout import Fanout, LocalFanout, RedisFanout
from gateway.hub import Hub
from gateway.mapping import queue_config
from gateway.notifier import Notifier
from gateway.routing.driver import RoutingDriver
from gateway.routing.outcomes import RoutingStore
from gateway.routing.screens import Screens
from gateway.routing.sweeper import RoutingSweeper
from gateway.routing.wallboard import Wallboard
from gateway.settings import Settings
from routing.backends import RoutingBackend
from routing.backends.memory import MemoryBackend
from routing.backends.redis import RedisBackend
from routing.engine import RoutingEngine


@dataclass(frozen=True, slots=True)
class LiveRouting:
    driver: RoutingDriver
    notifier: Notifier
    screens: Screens
    wallboard: Wallboard


@contextlib.asynccontextmanager
async def open_routing(settings: Settings, sessions: Sessions, hub: Hub,
                       store: RoutingStore) -> AsyncIterator[LiveRouting]:
    async with sessions() as session:
        users = await user_store.active_users(session)
        teams = await user_store.team_ids(session)
    user_ids = {u.username: u.id for u in users}
    queues = {name: queue_config(q, user_ids, teams) for name, q in settings.routing.queues.items()}
    backend: RoutingBackend
    redis = Redis.from_url(settings.redis.url, decode_responses=True) if settings.redis.url else None
    backend = RedisBackend(redis, prefix=f"{settings.redis.prefix}routing:") if redis else MemoryBackend()
    engine = RoutingEngine(backend, queues, time.time, missed_offers_limit=settings.routing.missed_offers_limit)
    async with contextlib.AsyncExitStack() as stack:
        fanout: Fanout = LocalFanout(hub)
        if redis is not None:
            fanout = await stack.enter_async_context(RedisFanout(redis, hub, f"{settings.redis.prefix}frames"))
        notifier = Notifier(fanout)
        driver = RoutingDriver(engine, sessions, store, notifier, settings.routing, time.time,
                               shared_deadline_check=2.0 if redis is not None else None)
        wallboard = Wallboard(engine, sessions, notifier, time.time, driver.spawn, settings.reports.zone)
        driver.outcome_listeners.append(wallboard.changed)
        # A reconnect replays to the sockets of this process only: the screen that connected is here.
        screens = Screens(driver, sessions, Notifier(LocalFanout(hub)), wallboard, settings.routing)
        hub.handlers.update(screens.handlers())
        hub.on_connect.append(screens.on_connect)
        hub.on_gone.append(screens.on_gone)
        if isinstance(fanout, RedisFanout):
            fanout.on_resubscribed.append(lambda: screens.resync(hub.connected_users()))
        # Every process, all the time: whatever stranded work a crash or an outage left is found.
        sweeper = RoutingSweeper(driver, sessions, time.time, hub.connected,
                                 interval=settings.routing.reconcile_seconds)
        screens.presence_listeners.append(sweeper.remember_presence)
        try:
            await driver.start(users)
            sweeper.start()
            yield LiveRouting(driver, notifier, screens, wallboard)
        finally:
            await sweeper.stop()
            wallboard.stop()
            await driver.stop()
            await backend.aclose()
