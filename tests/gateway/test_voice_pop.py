"""The screen pop never waits for the database: it goes out while nothing can be written, and the card follows."""
from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from crm_store.session import create_engine
from support.screens import screen
from test_voice import SECRET, pbx, settings_overrides, settled, voice, voice_calls  # noqa: F401


@asynccontextmanager
async def writes_held(database_url: str) -> AsyncIterator[None]:
    """Nobody else writes a lead until the block ends: SQLite's write lock taken by another connection, on
    PostgreSQL the leads table locked against inserts (reads go on, on both)."""
    if database_url.startswith("sqlite"):
        db = sqlite3.connect(database_url.split(":///", 1)[1], isolation_level=None, timeout=30)
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            db.execute("ROLLBACK")
            db.close()
        return
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("LOCK TABLE leads IN EXCLUSIVE MODE"))
            try:
                yield
            finally:
                await connection.rollback()
    finally:
        await engine.dispose()


async def test_a_first_time_caller_pops_while_nothing_can_be_written_and_the_card_follows(voice, pbx, database_url):
    async with screen(voice, "olga") as olga:
        async with writes_held(database_url):
            call = asyncio.create_task(pbx.replay("queue_answered", caller="+74990000123", caller_name="Новый Клиент"))
            ringing = await olga.expect("call.ringing")
            # From memory: the PBX's number and name; the lead cannot exist yet, so neither can its card.
            assert (ringing["caller"], ringing["caller_name"], ringing["extension"]) == (
                "+74990000123", "Новый Клиент", "101")
            assert (ringing["lead_id"], ringing["card"]) == (None, None)
        late = await olga.expect("call.card", keep_others=True)
        assert late["call_id"] == ringing["call_id"] and late["lead_id"] is not None
        assert late["card"]["lead"]["id"] == late["lead_id"]
        assert late["card"]["contact"]["display_name"] == "Новый Клиент"
        assert (await olga.expect("call.answered"))["lead_id"] == late["lead_id"]
        await call
        await olga.expect("call.ended")
    await settled(voice)
    [stored] = await voice_calls(voice)
    assert stored.lead_id == late["lead_id"]


async def test_a_known_caller_pops_with_the_card_from_memory_while_nothing_can_be_written(voice, pbx, database_url):
    async with screen(voice, "olga") as olga:
        await pbx.replay("direct_answered", caller="+74990000124", caller_name="Пётр Знакомый")
        first = await olga.expect("call.ringing")
        known = (await olga.expect("call.card"))["lead_id"]
        await olga.expect("call.ended")
        await settled(voice)
        async with writes_held(database_url):
            call = asyncio.create_task(pbx.replay("direct_answered", caller="+74990000124"))
            ringing = await olga.expect("call.ringing")
            assert ringing["call_id"] != first["call_id"]
            assert ringing["lead_id"] == known and ringing["card"]["lead"]["id"] == known
        await call
        await settled(voice)
