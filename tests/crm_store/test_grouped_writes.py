"""GroupedWrites stopped while a group is on its way (a shutdown) leaves nobody awaiting forever."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from crm_store.grouped_writes import GroupedWrites


class StuckWriter:
    """A writer whose commit never comes back, as when the process stops mid-batch."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def write_in_batch(self, work: Any, step: str) -> Any:
        self.started.set()
        await asyncio.Event().wait()


async def test_a_stopped_group_cancels_its_callers_and_those_waiting_for_the_next():
    writer = StuckWriter()
    writes: GroupedWrites[int, int] = GroupedWrites(writer, lambda session, items: items, "test")  # type: ignore[arg-type]
    first = asyncio.create_task(writes.write(1))
    await asyncio.wait_for(writer.started.wait(), 10)
    second = asyncio.create_task(writes.write(2))       # waits for the next group
    await asyncio.sleep(0)
    assert writes._worker is not None
    writes._worker.cancel()
    _, waiting = await asyncio.wait({first, second}, timeout=10)
    for caller in waiting:
        caller.cancel()
    assert not waiting, "a caller was left awaiting a group that will never be written"
    assert first.cancelled() and second.cancelled()
