"""Failed sign-ins counted per account and per address: past the limit, the next try waits.

A blocked try is refused before the password is even checked, so guessing costs us no hashing.
Counts live in this process: behind several processes an address gets the limit on each of them,
still far from the thousands of guesses an unthrottled login allows.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.settings import HttpSettings


@dataclass(frozen=True, slots=True)
class Limit:
    failures: int        # allowed within `window`
    window: float        # seconds


class _Window:
    """Failure times per key within the last `limit.window` seconds; the least recently used keys are forgotten."""

    def __init__(self, limit: Limit, clock: Callable[[], float], max_keys: int) -> None:
        self._limit, self._clock, self._max_keys = limit, clock, max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, key: str) -> float:
        """Seconds until `key` may try again; 0 if it may now."""
        times = self._recent(key)
        if times is None or len(times) < self._limit.failures:
            return 0.0
        return max(times[-self._limit.failures] + self._limit.window - self._clock(), 0.0)

    def fail(self, key: str) -> None:
        times = self._recent(key)
        if times is None:
            times = self._failures[key] = deque(maxlen=self._limit.failures)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)
        times.append(self._clock())

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        horizon = self._clock() - self._limit.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        self._failures.move_to_end(key)
        return times


class LoginThrottle:
    def __init__(self, per_account: Limit, per_address: Limit, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self._accounts = _Window(per_account, clock, max_keys)
        self._addresses = _Window(per_address, clock, max_keys)

    def retry_after(self, username: str, address: str | None) -> int:
        """Whole seconds the caller must wait before trying this account from this address; 0: go ahead."""
        wait = max(self._accounts.wait(_account(username)), self._addresses.wait(address or "-"))
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str, address: str | None) -> None:
        self._accounts.fail(_account(username))
        self._addresses.fail(address or "-")

    def succeeded(self, username: str) -> None:
        """The owner got in: their earlier typos no longer count against the account."""
        self._accounts.forget(_account(username))


def login_throttle(http: HttpSettings) -> LoginThrottle:
    window = http.login_window_seconds
    return LoginThrottle(Limit(http.login_failures_per_account, window), Limit(http.login_failures_per_address, window))


LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)


def _account(username: str) -> str:
    return username.strip().casefold()
