"""A shutdown that never ends is a bug of the service: fail with every task's stack instead of hanging the suite."""
from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable

import pytest

SHUTDOWN_BOUND = 120.0      # seconds: far beyond any shutdown, even on a starved machine


async def within(closing: Awaitable[object], what: str, seconds: float = SHUTDOWN_BOUND) -> None:
    """Await `closing`; past `seconds`, print where every task of the loop is waiting and fail the test."""
    task = asyncio.ensure_future(closing)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if task in done:
        task.result()
        return
    stacks = io.StringIO()
    for other in asyncio.all_tasks():
        other.print_stack(file=stacks)
    task.cancel()
    pytest.fail(f"{what} did not finish within {seconds:.0f} s; where the tasks wait:\n{stacks.getvalue()}")
