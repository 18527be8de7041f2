"""Failed sign-ins counted per account and per address: past the limit, the next try waits.

A blocked try is refused before the password is even checked, so guessing costs us no hashing.
With Redis configured the counts are shared by every process (a guesser gains nothing by spreading
tries over them); without it, or while Redis is unreachable, each process counts on its own.
"""
from __future__ import annotations

import logging
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.settings import HttpSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    failures: int        # allowed within `window`
    window: float        # seconds


class FailureLog(Protocol):
    async def wait(self, key: str, limit: Limit) -> float:
        """Seconds until `key` may try again; 0 if it may now."""

    async def fail(self, key: str, limit: Limit) -> None: ...

    async def forget(self, key: str) -> None: ...


class MemoryFailures:
    """Failure times per key in this process; the least recently used keys are forgotten past `max_keys`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock, self._max_keys = clock, max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    async def wait(self, key: str, limit: Limit) -> float:
        times = self._recent(key, limit)
        if times is None or len(times) < limit.failures:
            return 0.0
        return max(times[-limit.failures] + limit.window - self._clock(), 0.0)

    async def fail(self, key: str, limit: Limit) -> None:
        times = self._recent(key, limit)
        if times is None:
            times = self._failures[key] = deque(maxlen=limit.failures)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)
        times.append(self._clock())

    async def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, limit: Limit) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        horizon = self._clock() - limit.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        self._failures.move_to_end(key)
        return times


class RedisFailures:
    """One sorted set of failure times per key, shared by every process; this process counts alone while
    Redis cannot be reached (a sign-in must not fail because the counter did)."""

    def __init__(self, redis: Redis, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self._redis, self._prefix, self._clock = redis, prefix, clock
        self._fallback = MemoryFailures()

    async def wait(self, key: str, limit: Limit) -> float:
        now = self._clock()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(self._prefix + key, "-inf", now - limit.window)
                pipe.zrevrange(self._prefix + key, limit.failures - 1, limit.failures - 1, withscores=True)
                _, nth = await pipe.execute()
        except RedisError as exc:
            log.warning("login throttle counts in this process only: %s", exc)
            return await self._fallback.wait(key, limit)
        return max(nth[0][1] + limit.window - now, 0.0) if nth else 0.0

    async def fail(self, key: str, limit: Limit) -> None:
        now = self._clock()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self._prefix + key, {uuid.uuid4().hex: now})
                pipe.zremrangebyrank(self._prefix + key, 0, -limit.failures - 1)   # only the last N matter
                pipe.expire(self._prefix + key, math.ceil(limit.window))
                await pipe.execute()
        except RedisError as exc:
            log.warning("login throttle counts in this process only: %s", exc)
            await self._fallback.fail(key, limit)

    async def forget(self, key: str) -> None:
        try:
            await self._redis.delete(self._prefix + key)
        except RedisError as exc:
            log.warning("login throttle could not forget %s: %s", key, exc)
        await self._fallback.forget(key)


class LoginThrottle:
    def __init__(self, per_account: Limit, per_address: Limit, failures: FailureLog | None = None) -> None:
        self._account_limit, self._address_limit = per_account, per_address
        self._failures: FailureLog = failures or MemoryFailures()

    async def retry_after(self, username: str, address: str | None) -> int:
        """Whole seconds the caller must wait before trying this account from this address; 0: go ahead."""
        wait = max(await self._failures.wait(_account(username), self._account_limit),
                   await self._failures.wait(_address(address), self._address_limit))
        return math.ceil(wait) if wait > 0 else 0

    async def failed(self, username: str, address: str | None) -> None:
        await self._failures.fail(_account(username), self._account_limit)
        await self._failures.fail(_address(address), self._address_limit)

    async def succeeded(self, username: str) -> None:
        """The owner got in: their earlier typos no longer count against the account."""
        await self._failures.forget(_account(username))


LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)


def mount(app: web.Application, http: HttpSettings, redis_url: str | None, redis_prefix: str) -> None:
    """The throttle, on Redis when the installation has one; its connection opens and closes with the app."""
    per_account = Limit(http.login_failures_per_account, http.login_window_seconds)
    per_address = Limit(http.login_failures_per_address, http.login_window_seconds)

    async def throttle(app: web.Application) -> AsyncIterator[None]:
        if redis_url is None:
            app[LOGIN_THROTTLE] = LoginThrottle(per_account, per_address)
            yield
            return
        redis = Redis.from_url(redis_url, decode_responses=True)
        app[LOGIN_THROTTLE] = LoginThrottle(per_account, per_address, RedisFailures(redis, f"{redis_prefix}login:"))
        try:
            yield
        finally:
            await redis.aclose()

    app.cleanup_ctx.append(throttle)


def _account(username: str) -> str:
    return "account:" + username.strip().casefold()


def _address(address: str | None) -> str:
    return "address:" + (address or "-")
