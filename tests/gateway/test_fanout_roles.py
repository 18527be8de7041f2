"""Processes sharing one Redis know which roles are connected anywhere: nobody composes a wallboard for nobody."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from gateway.auth_types import Principal
from gateway.fanout import ROLES_FRESH, RedisFanout
from gateway.hub import Hub
from gateway.notifier import WATCHER_ROLES
from support.hub_socket import hub_url
from crm_store.types import Role
from support.clocks import ManualClock

pytestmark = pytest.mark.redis
NOW = 1_800_000_000.0


@contextlib.asynccontextmanager
async def screen(hub: Hub, role: Role) -> AsyncIterator[None]:
    """One signed-in screen of `role`, connected to `hub` over a real websocket on loopback."""
    who = Principal(7, "sup", "Sup", role, None, "en", "token")
    async with hub_url(hub, who) as url, aiohttp.ClientSession() as http, http.ws_connect(url):
        for _ in range(200):        # bounded: the hub registers the socket once the handshake is done
            if hub.connected(7):
                break
            await asyncio.sleep(0.01)
        yield


async def test_a_watcher_on_one_process_is_known_to_the_other_and_forgotten_when_stale(redis_url):
    clock = ManualClock(NOW)
    redis = Redis.from_url(redis_url, decode_responses=True)
    here, there = Hub(), Hub()
    try:
        async with RedisFanout(redis, here, "roles1:frames", clock, 3600) as a, \
                RedisFanout(redis, there, "roles1:frames", clock, 3600) as b:     # said here, by hand
            await a.share_roles()
            await b.share_roles()
            assert not a.may_reach(WATCHER_ROLES) and not b.may_reach(WATCHER_ROLES)
            async with screen(there, Role.SUPERVISOR):
                assert b.may_reach(WATCHER_ROLES)           # its own socket
                assert not a.may_reach(WATCHER_ROLES)       # not said yet
                await b.share_roles()
                await a.share_roles()
                assert a.may_reach(WATCHER_ROLES)
                assert not a.may_reach(frozenset({"operator"}))
                clock.now += ROLES_FRESH + 1                # b stopped saying it (a stopped process)
                assert not a.may_reach(WATCHER_ROLES)
    finally:
        await redis.aclose()


async def test_before_hearing_from_redis_everyone_may_be_watching(redis_url):
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        fanout = RedisFanout(redis, Hub(), "roles2:frames", ManualClock(NOW))
        assert fanout.may_reach(WATCHER_ROLES)
        await fanout.share_roles()
        assert not fanout.may_reach(WATCHER_ROLES)
    finally:
        await redis.aclose()
