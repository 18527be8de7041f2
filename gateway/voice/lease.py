"""One process acts on the PBX's events when several share a Redis: whoever holds the lease.

Every process keeps its own AMI connection (so any of them can place a click-to-call or pause a
queue member) and tracks calls, but only the lease holder turns events into leads, pops and call
records; otherwise each pop would arrive once per process. The holder renews the lease; if it dies,
another takes over within `ttl` and rebuilds the calls in progress from the PBX (CoreShowChannels).
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

log = logging.getLogger(__name__)

RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, redis: Redis, key: str, *, ttl: float = 6.0,
                 on_gain: Callable[[], Awaitable[None]], on_loss: Callable[[], Awaitable[None]]) -> None:
        self._redis, self._key, self._ttl = redis, key, ttl
        self._token = uuid.uuid4().hex
        self._on_gain, self._on_loss = on_gain, on_loss
        self.held = False

    async def run(self) -> None:
        """Forever: take the lease when it is free, keep it renewed, give up on a failed renewal."""
        ms = int(self._ttl * 1000)
        while True:
            try:
                if self.held:
                    if not await self._redis.eval(RENEW, 1, self._key, self._token, ms):
                        log.warning("voice lease %s lost: another process acts on PBX events now", self._key)
                        self.held = False
                        await self._on_loss()
                elif await self._redis.set(self._key, self._token, nx=True, px=ms):
                    self.held = True
                    log.info("voice lease %s taken: this process acts on PBX events", self._key)
                    await self._on_gain()
            except (OSError, ConnectionError) as exc:       # Redis away: keep what we have until it expires
                log.warning("voice lease %s: %s", self._key, exc)
            await asyncio.sleep(self._ttl / 3)

    async def close(self) -> None:
        """Hand the lease over at once (another process need not wait for it to expire)."""
        try:
            if self.held:
                self.held = False
                await self._redis.eval(RELEASE, 1, self._key, self._token)
        finally:
            await self._redis.aclose()
