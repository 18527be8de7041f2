"""The routing driver: an engine call it was handed but never ran (cancelled while waiting its turn, as a
shutdown cancels the driver's background steps) is closed, not left for a 'never awaited' warning."""
from __future__ import annotations

import asyncio
import inspect

from gateway.keys import ROUTING
from routing.events import RoutingOutcome


async def test_a_call_cancelled_while_waiting_its_turn_is_closed(api):
    driver = api.client.app[ROUTING]
    release, entered = asyncio.Event(), asyncio.Event()

    async def holding() -> RoutingOutcome:
        entered.set()
        await release.wait()
        return RoutingOutcome()

    first = asyncio.create_task(driver.run(holding()))
    await entered.wait()                                  # the first call holds the driver's turn
    call = driver.engine.expire_due()
    waiting = asyncio.create_task(driver.run(call))
    while inspect.getcoroutinestate(waiting.get_coro()) == inspect.CORO_CREATED:
        await asyncio.sleep(0)                            # until it waits for the turn
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert waiting.cancelled()
    assert inspect.getcoroutinestate(call) == inspect.CORO_CLOSED     # was CORO_CREATED: warned at collection
    release.set()
    await first
