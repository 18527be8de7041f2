"""Token buckets per client, in bounded memory: a flood of new addresses evicts the oldest, never grows."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable


class TokenBuckets:
    """`burst` requests at once, then `rate_per_minute`; the least recently seen clients are forgotten."""

    def __init__(self, clock: Callable[[], float], *, max_clients: int = 10_000) -> None:
        self._clock = clock
        self._max_clients = max_clients
        # key -> (tokens left, time of the last refill); ordered oldest-seen first.
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: Hashable, *, rate_per_minute: float, burst: int) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until a token is available."""
        now = self._clock()
        rate = rate_per_minute / 60.0
        tokens, then = self._buckets.pop(key, (float(burst), now))
        # A clock that steps back must not hand out free tokens or lock a client out.
        tokens = min(float(burst), tokens + max(0.0, now - then) * rate)
        if tokens >= 1.0:
            self._remember(key, tokens - 1.0, now)
            return 0.0
        self._remember(key, tokens, now)
        return (1.0 - tokens) / rate

    def _remember(self, key: Hashable, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_clients:
            # An evicted client starts again with a full bucket: that is the price of bounded memory.
            self._buckets.popitem(last=False)
