"""One process acts on the PBX's events when several share a Redis: whoever holds the voice lease.

Every process keeps its own AMI connection (so any of them can place a click-to-call or pause a
queue member) and tracks calls, but only the lease holder turns events into leads, pops and call
records; otherwise each pop would arrive once per process. The holder renews the lease; if it dies,
another takes over within the lease's ttl and rebuilds the calls in progress from the PBX
(CoreShowChannels). The lease itself is the generic one the exclusive listeners use.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.asyncio import Redis

from gateway.leases import Lease


class VoiceLease:
    """The lease on `{prefix}voice:lease`, with the Redis client it alone uses."""

    def __init__(self, redis: Redis, key: str, *, on_gain: Callable[[], Awaitable[None]],
                 on_loss: Callable[[], Awaitable[None]]) -> None:
        self._redis = redis
        self._lease = Lease(redis, key, on_gain=on_gain, on_loss=on_loss)

    @property
    def held(self) -> bool:
        return self._lease.held

    async def run(self) -> None:
        await self._lease.run()

    async def close(self) -> None:
        """Hand the lease over at once (another process need not wait for it to expire)."""
        try:
            await self._lease.release()
        finally:
            await self._redis.aclose()


VOICE_LEASE = web.AppKey("voice_lease", VoiceLease)
