"""The one retry pause every reconnecting loop uses: exponential, capped, jittered (tenacity's wait).

Jitter keeps processes that lost the same peer from knocking on it in step: each pause is drawn
between `first / 2` and `first * 2**n`, the ceiling capped at `cap`. A loop that got through calls `reset()`.
"""
from __future__ import annotations

import asyncio
from contextlib import suppress

from tenacity import RetryCallState, wait_random_exponential


class Backoff:
    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap = first, cap
        self._wait = wait_random_exponential(multiplier=first, max=cap, min=first / 2)
        self._state = RetryCallState(None, None, (), {})

    def next(self) -> float:
        """The pause before the next attempt; each call doubles the ceiling until `cap`."""
        pause = float(self._wait(self._state))
        self._state.attempt_number += 1
        return pause

    def reset(self) -> None:
        self._state.attempt_number = 1

    async def sleep(self, stopping: asyncio.Event | None = None) -> None:
        """Pause for `next()`; returns early once `stopping` is set."""
        pause = self.next()
        if stopping is None:
            await asyncio.sleep(pause)
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), pause)
