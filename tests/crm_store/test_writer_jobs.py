"""Store work run by the one writer (`Ingestor.write_soon`): shares the group commit with inbound events,
and a job that raises fails alone, its neighbours committed."""
from __future__ import annotations

import asyncio
import types
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from crm_store import audit
from crm_store.errors import Invalid
from crm_store.in_writer import AwaitedOutsideTheStore
from crm_store.ingest import Ingestor
from crm_store.models import AuditEntry, Lead
from factories import phone, request

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
async def ingestor(engine):  # type: ignore[no-untyped-def]
    async with Ingestor(engine) as running:
        yield running


async def test_jobs_share_the_commit_and_a_refused_one_fails_alone(ingestor, sessions):
    async def entry(session: Any, i: int) -> int:
        audit.record(session, "test.job", NOW, detail={"i": i})
        await session.flush()
        return await session.scalar(select(func.count()).select_from(AuditEntry))   # reads its own write

    async def refused(session: Any) -> None:
        audit.record(session, "test.refused", NOW)
        await session.flush()
        raise Invalid("no such thing", "thing")

    # All queued before the writer's next turn: one batch with events, good jobs and a bad one.
    work = [ingestor.ingest(request(phone(f"+7912000{i:04d}"))) for i in range(10)]
    work += [ingestor.write_soon(lambda session, i=i: entry(session, i)) for i in range(10)]
    work.append(ingestor.write_soon(refused))
    outcomes = await asyncio.gather(*work, return_exceptions=True)
    assert isinstance(outcomes[-1], Invalid) and outcomes[-1].field == "thing"
    assert all(isinstance(n, int) and n >= 1 for n in outcomes[10:20])
    async with sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
        leads = await session.scalar(select(func.count()).select_from(Lead))
    assert sorted(actions) == ["test.job"] * 10 and leads == 10


async def test_work_that_waits_on_anything_but_the_store_is_refused(ingestor):
    async def suspends(session: Any) -> None:
        await _suspend()      # would hold the writer (and SQLite's lock) across loop turns

    with pytest.raises(AwaitedOutsideTheStore):
        await ingestor.write_soon(suspends)
    assert await ingestor.write_soon(lambda session: _answer(session)) == 42


@types.coroutine
def _suspend() -> Generator[None, None, None]:
    """What any awaitable other than a store call does: give control back to its runner."""
    yield


async def _answer(session: Any) -> int:
    return 42


async def test_the_writer_counts_its_cpu_by_step(ingestor, engine):
    async def entry(session: Any) -> None:
        audit.record(session, "test.job", NOW)
        await session.flush()

    await asyncio.gather(ingestor.ingest(request(phone("+79120009999"))),
                         ingestor.write_soon(entry, step="PATCH /things/{id}"))
    by_step = ingestor.writer_cpu_by_step()
    if engine.dialect.name != "sqlite":
        assert by_step is None          # the writes run on the loop there: no thread of their own to time
        return
    assert by_step is not None and {"intake", "PATCH /things/{id}", "commit"} <= set(by_step)
    assert all(seconds > 0 for seconds in by_step.values())
