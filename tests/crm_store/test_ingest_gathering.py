"""How the writer's next group commit is gathered: a backlog goes at once, a lone event waits a turn for company."""
from __future__ import annotations

import asyncio

import pytest

from crm_store.ingest import Ingestor
from factories import phone, request


async def test_a_backlog_is_written_at_once_without_a_turn_spent_gathering(engine):
    ingestor = Ingestor(engine)         # not started: its gathering is driven here, one step at a time
    loop = asyncio.get_running_loop()
    for i in range(3):      # what queued up while the last batch was being written
        ingestor._queue.put_nowait((request(phone(f"+7912000{i:04d}")), loop.create_future()))
    batch = [ingestor._queue.get_nowait()]
    gathering = ingestor._gather(batch)
    with pytest.raises(StopIteration):      # finished in its first step: it never gave the loop a turn
        gathering.send(None)
    assert len(batch) == 3 and ingestor._queue.empty()


async def test_a_lone_event_waits_a_turn_for_what_the_loop_is_about_to_queue(engine):
    ingestor = Ingestor(engine)
    loop = asyncio.get_running_loop()
    batch = [(request(phone("+79120001000")), loop.create_future())]
    gathering = ingestor._gather(batch)
    gathering.send(None)        # it yields: one turn of the loop, in case more is on its way
    ingestor._queue.put_nowait((request(phone("+79120001001")), loop.create_future()))
    gathering.send(None)        # something came: taken, and another turn waited for
    with pytest.raises(StopIteration):      # nothing more came: it goes
        gathering.send(None)
    assert len(batch) == 2
