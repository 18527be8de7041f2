"""The listener runner: a failing start is retried, and an exclusive listener runs in one process only."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from channels.plug import Listening
from gateway.listeners import ListenerRunner


class Flaky:
    """Refuses to start (a taken port, an unreachable peer) until `free` is set, then runs."""

    def __init__(self, *, free: bool = True) -> None:
        self.free = asyncio.Event()
        if free:
            self.free.set()
        self.running, self.starts = False, 0

    async def start(self) -> None:
        self.starts += 1
        if not self.free.is_set():
            raise OSError("address already in use")
        self.running = True

    async def stop(self) -> None:
        self.running = False


async def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def test_a_refused_start_is_retried_and_reported_meanwhile() -> None:
    flaky = Flaky(free=False)
    runner = ListenerRunner([Listening("smtp", flaky)], retry_first=0.01, retry_cap=0.05)
    runner.start()
    try:
        await until(lambda: flaky.starts >= 3, "retried")
        assert runner.states()["smtp"].state in ("down", "connecting")
        assert "address already in use" in (runner.states()["smtp"].error or "")
        flaky.free.set()
        await until(lambda: flaky.running, "started after retries")
        assert runner.states()["smtp"].state == "connected"
    finally:
        await runner.stop()
    assert not flaky.running


@pytest.mark.redis
async def test_an_exclusive_listener_runs_in_the_lease_holder_and_moves_when_it_stops(redis_url: str) -> None:
    first, second = Flaky(), Flaky()
    shared = Flaky()
    redis_a, redis_b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    # A lease long enough that a busy machine's stalls never let it lapse; renewed every second.
    prefix = f"runner-test-{uuid.uuid4().hex}:"
    a = ListenerRunner([Listening("smtp", first, exclusive=True), Listening("forms", shared)],
                       redis=redis_a, prefix=prefix, lease_ttl=3.0)
    b = ListenerRunner([Listening("smtp", second, exclusive=True)], redis=redis_b, prefix=prefix, lease_ttl=3.0)
    a.start()
    try:
        await until(lambda: first.running and shared.running, "a runs both")
        b.start()
        await until(lambda: b.states()["smtp"].state == "standby", "b stands by")
        renewals, last = 0, await redis_a.pttl(f"{prefix}listener:smtp")
        for _ in range(1000):       # a renews its lease twice (its time to live goes up), b keeps standing by
            now = await redis_a.pttl(f"{prefix}listener:smtp")
            renewals, last = renewals + (now > last), now
            if renewals == 2:
                break
            await asyncio.sleep(0.02)
        assert renewals == 2, "the lease was not renewed"
        assert not second.running and b.states()["smtp"].state == "standby"
        await a.stop()               # releases the lease: b need not wait for it to expire
        await until(lambda: second.running, "b took over")
        assert b.states()["smtp"].state == "connected" and not first.running
    finally:
        await a.stop()
        await b.stop()
        await redis_a.aclose()
        await redis_b.aclose()
