"""Routing's state backend and engine, chosen by settings: in-process, or Redis shared by several processes."""
from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from crm_store import users as user_store
from crm_store.session import Sessions
from gateway.dispatch import Dispatcher
from gateway.fanout import Fanout, LocalFanout, RedisFanout
from gateway.hub import Hub
from gateway.mapping import queue_config
from gateway.settings import Settings
from routing.backends import RoutingBackend
from routing.backends.memory import MemoryBackend
from routing.backends.redis import RedisBackend
from routing.engine import RoutingEngine


@contextlib.asynccontextmanager
async def open_routing(settings: Settings, sessions: Sessions,
                       hub: Hub) -> AsyncIterator[Dispatcher]:
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
        dispatcher = Dispatcher(engine, sessions, hub, fanout, settings.routing, time.time,
                                shared_deadline_check=2.0 if redis is not None else None)
        hub.handlers.update(dispatcher.handlers())
        hub.on_connect.append(dispatcher.on_connect)
        hub.on_gone.append(dispatcher.on_gone)
        try:
            await dispatcher.start(users)
            yield dispatcher
        finally:
            await dispatcher.stop()
            await backend.aclose()
