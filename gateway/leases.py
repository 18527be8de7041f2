"""One process owns a thing several processes could each do: whoever holds its Redis lease.

The holder renews the lease every `ttl / 3`; if it dies, the key expires and another process takes
it within `ttl`. `on_gain` and `on_loss` are awaited inside the renewal loop, so they must be quick
(set a flag, wake a task): a slow one would let the lease lapse while the work still runs here.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


async def _nothing() -> None:
    return None


class Lease:
    def __init__(self, redis: Redis, key: str, *, ttl: float = 6.0,
                 on_gain: Callable[[], Awaitable[None]] = _nothing,
                 on_loss: Callable[[], Awaitable[None]] = _nothing) -> None:
        self._redis, self.key, self._ttl = redis, key, ttl
        self._token = uuid.uuid4().hex
        self._on_gain, self._on_loss = on_gain, on_loss
        self.held = False

    async def run(self) -> None:
        """Forever: take the lease when it is free, keep it renewed, give it up on a failed renewal."""
        ms = int(self._ttl * 1000)
        while True:
            try:
                if self.held:
                    if not await self._redis.eval(RENEW, 1, self.key, self._token, ms):  # type: ignore[misc]
                        log.warning("lease %s lost: another process holds it now", self.key)
                        self.held = False
                        await self._on_loss()
                elif await self._redis.set(self.key, self._token, nx=True, px=ms):
                    self.held = True
                    log.info("lease %s taken: this process runs it", self.key)
                    await self._on_gain()
            except (OSError, ConnectionError, RedisError) as exc:  # Redis away: keep what we have until it expires
                log.warning("lease %s: %s", self.key, exc)
            await asyncio.sleep(self._ttl / 3)

    async def release(self) -> None:
        """Hand the lease over at once (another process need not wait for it to expire)."""
        if not self.held:
            return
        self.held = False
        try:
            await self._redis.eval(RELEASE, 1, self.key, self._token)  # type: ignore[misc]
        except (OSError, ConnectionError, RedisError) as exc:
            log.warning("lease %s not released (it expires by itself): %s", self.key, exc)
