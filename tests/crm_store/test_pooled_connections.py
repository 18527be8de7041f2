"""PostgreSQL's pool without a pre-ping: a connection the server ended while it sat in the pool is replaced at
checkout, with no round trip to find out, and a live one is handed out as it is (no BEGIN; SELECT; ROLLBACK)."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text

from crm_store.session import create_engine, session_factory

pytestmark = pytest.mark.postgres


async def test_a_connection_the_server_ended_is_replaced_at_checkout(postgres_database: str) -> None:
    engine = create_engine(postgres_database)
    killer = create_engine(postgres_database)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            first = await session.scalar(text("SELECT pg_backend_pid()"))
            pooled = (await (await session.connection()).get_raw_connection()).driver_connection
        async with killer.connect() as conn:        # as a restart or an idle timeout would
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        for _ in range(200):        # bounded: asyncpg sees the socket close on a later turn of the loop
            if pooled.is_closed():
                break
            await asyncio.sleep(0.01)
        async with sessions() as session:
            again = await session.scalar(text("SELECT pg_backend_pid()"))
        assert again != first
    finally:
        await killer.dispose()
        await engine.dispose()


async def test_a_live_pooled_connection_is_used_without_a_ping(postgres_database: str) -> None:
    engine = create_engine(postgres_database)
    sent: list[str] = []       # what reaches the server, as asyncpg sends it (a pre-ping's ";" among it)
    event.listen(engine.sync_engine, "connect",
                 lambda dbapi, record: record.driver_connection.add_query_logger(lambda q: sent.append(q.query)))
    try:
        sessions = session_factory(engine)
        for _ in range(3):
            async with sessions() as session:
                assert await session.scalar(text("SELECT 1")) == 1
        assert ";" not in sent
        assert engine.sync_engine.pool.checkedin() == 1      # one connection, reused
    finally:
        await engine.dispose()
