"""The screen pop never waits for the database: it goes out while nothing can be written, and the card follows."""
from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import text

from crm_store.session import create_engine
from gateway.keys import VOICE
from gateway.voice.cards import CardReader
from gateway.voice.phones import PhoneBook
from support.screens import screen
from test_voice import SECRET, card_of, pbx, settings_overrides, settled, voice, voice_calls  # noqa: F401


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


def first_done(first: str, voice, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:  # type: ignore[no-untyped-def]
    """Which is done first for a new call, its record (the lead and its card, written and read beside the call's
    events) or the pop of its ring, decides where the card goes: in `call.ringing` if the record was, else in the
    `call.card` that follows. A ring at a phone in memory pops at once; at one the phone book does not know yet
    (its first read, started by the PBX's member events at login, not done) it waits for a read, and a fast
    record then wins. This makes `first` ("ring" or "record") win whatever the machine's pace, until the returned
    event is set (the test saw the ring): "ring" holds the card's read, "record" makes every phone unknown and
    its look-up wait for the records of the calls in progress."""
    rung = asyncio.Event()
    if first == "ring":
        read = CardReader.read

        async def read_after_the_ring(self: CardReader, lead_id: int) -> dict[str, Any] | None:
            await rung.wait()
            return await read(self, lead_id)
        monkeypatch.setattr(CardReader, "read", read_after_the_ring)
        return rung
    cached, user_at = PhoneBook.cached, PhoneBook.user_at

    def unknown_until_rung(self: PhoneBook, extension: str) -> tuple[bool, int | None]:
        return cached(self, extension) if rung.is_set() else (False, None)

    async def user_after_the_records(self: PhoneBook, extension: str) -> int | None:
        records = [call.recorded for call in voice.client.app[VOICE].calls.values() if call.recorded]
        if records and not rung.is_set():
            await asyncio.wait(records)
        return await user_at(self, extension)
    monkeypatch.setattr(PhoneBook, "cached", unknown_until_rung)
    monkeypatch.setattr(PhoneBook, "user_at", user_after_the_records)
    return rung


@pytest.mark.parametrize("first", ["ring", "record"])
async def test_a_known_caller_pops_with_the_card_from_memory_while_nothing_can_be_written(
        voice, pbx, database_url, monkeypatch, first):
    rung = first_done(first, voice, monkeypatch)
    async with screen(voice, "olga") as olga:
        await pbx.replay("direct_answered", caller="+74990000124", caller_name="Пётр Знакомый")
        first_ring = await olga.expect("call.ringing")
        rung.set()
        # The first call's card: in its pop when its record was done first, else in the `call.card` after it.
        assert (first_ring["card"] is not None) == (first == "record")
        known = (await card_of(olga, first_ring))["lead"]["id"]
        await olga.expect("call.ended")
        await settled(voice)
        async with writes_held(database_url):
            call = asyncio.create_task(pbx.replay("direct_answered", caller="+74990000124"))
            ringing = await olga.expect("call.ringing")
            assert ringing["call_id"] != first_ring["call_id"]
            assert ringing["lead_id"] == known and ringing["card"]["lead"]["id"] == known
        await call
        await settled(voice)
