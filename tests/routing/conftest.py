"""Routing fixtures: both state backends, an injected clock, an engine factory."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping

import pytest

from routing.backends.memory import MemoryBackend
from routing.backends.redis import RedisBackend
from routing.engine import RoutingEngine
from routing.types import QueueConfig
from support.clocks import ManualClock

START = 1_800_000_000.0  # a Friday, 2027-01-15 08:00 UTC


@pytest.fixture
def clock() -> ManualClock[float]:
    return ManualClock(START)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    url = request.getfixturevalue("redis_url")
    store = RedisBackend.from_url(url, prefix=f"test{uuid.uuid4().hex}:")
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
def make_engine(backend: object, clock: ManualClock[float]) -> Callable[..., RoutingEngine]:
    def make(queues: Mapping[str, QueueConfig] | None = None, **kwargs: object) -> RoutingEngine:
        return RoutingEngine(backend, queues or {"default": QueueConfig()}, clock, **kwargs)  # type: ignore[arg-type]
    return make
