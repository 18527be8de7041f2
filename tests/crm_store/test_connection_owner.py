"""One connection, one task: a session used from a second task is refused before anything reaches the driver.

On PostgreSQL, asyncpg refuses a second operation on a connection only when the two overlap ("another operation is
in progress"), so a shared session failed on a busy machine only; the store's check (on in the whole test suite,
tests/conftest.py) refuses the first cross-task statement every time. What the store itself does across tasks
(a session closed by SQLAlchemy's shielded close, the group-commit writer, a task cancelled mid-statement) passes.
"""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_store import connection_owner
from crm_store.connection_owner import SharedConnection
from crm_store.ingest import Ingestor
from crm_store.session import create_engine, session_factory

SPINS = 2000     # loop turns to wait for the server to show a statement running (bounded)


def test_the_suite_runs_with_the_check_on(engine: AsyncEngine) -> None:
    assert connection_owner.enabled()


async def test_a_session_used_from_a_second_task_is_refused_and_stays_its_owners(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        assert await session.scalar(text("SELECT 1")) == 1      # checked out by this task
        with pytest.raises(SharedConnection, match="used by task 'borrower'"):
            await asyncio.create_task(session.scalar(text("SELECT 2")), name="borrower")
        # Nothing was sent: the owner goes on as if nobody had tried.
        assert await session.scalar(text("SELECT 3")) == 3


async def test_a_gather_over_one_session_is_refused_in_every_branch(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(text("SELECT 1"))
        found = await asyncio.gather(session.scalar(text("SELECT 2")), session.scalar(text("SELECT 3")),
                                     return_exceptions=True)
        # The second may come wrapped (SQLAlchemy's StatementError, raised while the first is being handled).
        assert all(isinstance(f, SharedConnection) or isinstance(getattr(f, "orig", None), SharedConnection)
                   for f in found), found
        assert await session.scalar(text("SELECT 4")) == 4


async def test_what_the_store_does_across_tasks_passes(engine: AsyncEngine,
                                                       sessions: async_sessionmaker[AsyncSession]) -> None:
    async def opened_and_closed() -> int | None:
        async with sessions() as session:         # closed by a task of SQLAlchemy's own (a shielded close)
            return await session.scalar(text("SELECT 5"))

    assert await asyncio.gather(*(opened_and_closed() for _ in range(8))) == [5] * 8
    async with Ingestor(engine) as ingestor:      # the group-commit writer: its own task, its own session

        async def work(session: AsyncSession) -> int | None:
            return await session.scalar(text("SELECT 6"))

        assert await asyncio.gather(*(ingestor.write_soon(work) for _ in range(8))) == [6] * 8
        assert await asyncio.create_task(ingestor.write_soon(work)) == 6


@pytest.mark.postgres
async def test_a_task_cancelled_mid_statement_leaves_no_connection_busy(postgres_database: str) -> None:
    """The connection of a statement cancelled while the server runs it is never handed out again half-done."""
    engine = create_engine(postgres_database)
    sessions = session_factory(engine)
    try:
        started = asyncio.Event()

        async def slow() -> None:
            async with sessions() as session, session.begin():
                await session.execute(text("SELECT 1"))
                started.set()
                await session.execute(text("SELECT pg_sleep(60)"))

        victim = asyncio.create_task(slow())
        await started.wait()
        async with sessions() as watcher:
            for _ in range(SPINS):
                running = await watcher.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'"))
                if running:
                    break
                await asyncio.sleep(0.01)
        assert running == 1
        victim.cancel()
        with pytest.raises(asyncio.CancelledError):
            await victim
        # Every connection the pool hands out next answers at once, the cancelled one too if it was kept.
        async with asyncio.timeout(60):
            answers = await asyncio.gather(*(_one(sessions) for _ in range(12)))
        assert answers == [1] * 12
        async with sessions() as session:
            assert await session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'")) == 0
    finally:
        await engine.dispose()


async def _one(sessions: async_sessionmaker[AsyncSession]) -> int | None:
    async with sessions() as session:
        return await session.scalar(text("SELECT 1"))
