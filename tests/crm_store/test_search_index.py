"""The search index after migration 0007: rebuilt without positions from the stored texts, asked by trigrams.

SQLite's FTS5 table keeps rowid lists only (`detail=none, columnsize=0`), so it is asked for trigrams with
AND (crm_store.search_terms) and every hit is checked for the whole needle on its row; PostgreSQL keeps its
pg_trgm index. A database with leads at the previous head must find the same leads after the upgrade.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from crm_store import leads, search_terms
from crm_store.migrate import alembic_config
from crm_store.types import LeadFilter, Role, Viewer
from tests.crm_store.factories import T0

BOSS = Viewer(user_id=1, role=Role.ADMIN, team_id=None)
TEXTS = ("петросян анна | +7 912 345-67-89 | 79123456789 | anna@example.ru",
         "abc bcd cde | 79120000000",            # every trigram of "abcde", never adjacent
         "zabcdez | заказ #24403",
         "елкин | 536776 | creme")


async def _found(sessions, needle: str) -> list[int]:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        return sorted(lead.id for lead in await leads.list_leads(s, BOSS, LeadFilter(q=needle, limit=100)))


async def test_stored_leads_are_found_alike_after_the_index_is_rebuilt(database_url, engine, sessions):
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0006_bigdb")
    async with engine.begin() as c:
        for at, doc in enumerate(TEXTS):
            await c.execute(text("INSERT INTO contacts (display_name, created_at, updated_at) VALUES ('C', :t, :t)"),
                            {"t": T0})
            await c.execute(text(
                "INSERT INTO leads (contact_id, status, priority, channel, source, attributes, notes, created_at, "
                "updated_at, last_activity_at, search_text) VALUES ((SELECT max(id) FROM contacts), 'new', 0, "
                "'form', '{}', '{}', '', :t, :t, :t, :doc)"), {"t": T0 + timedelta(minutes=at), "doc": doc})
        ids = list((await c.execute(text("SELECT id FROM leads ORDER BY id"))).scalars())
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")

    if engine.dialect.name == "sqlite":
        async with engine.connect() as c:
            ddl = await c.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'leads_search'"))
        assert "detail=none" in ddl and "columnsize=0" in ddl, ddl
    assert await _found(sessions, "Петросян") == [ids[0]]
    assert await _found(sessions, "anna@example.ru") == [ids[0]]
    assert await _found(sessions, "8 912 345-67-89") == []        # the text is not in it; its digits are not either
    assert await _found(sessions, "912 345-67-89") == [ids[0]]
    assert await _found(sessions, "7912") == [ids[0], ids[1]]
    assert await _found(sessions, "abcde") == [ids[2]]             # its trigrams apart in lead 2: not a match
    assert await _found(sessions, "#24403") == [ids[2]]
    assert await _found(sessions, "Ёлкин | 536") == [ids[3]]

    # The triggers keep the rebuilt index in step with the column.
    async with engine.begin() as c:
        await c.execute(text("UPDATE leads SET search_text = 'абрикос | 79990001122' WHERE id = :id"), {"id": ids[3]})
        await c.execute(text("DELETE FROM leads WHERE id = :id"), {"id": ids[2]})
    assert await _found(sessions, "абрикос") == [ids[3]]
    assert await _found(sessions, "елкин") == []
    assert await _found(sessions, "zabcdez") == []


@given(st.text(alphabet="ab1 \"'*", min_size=3, max_size=20))
def test_the_index_is_asked_for_single_trigrams_only(needle):
    """`detail=none` matches no phrase of several tokens: every term asked is one quoted trigram of the needle."""
    for asked in search_terms.fts_query(needle).split(" AND "):
        assert asked.startswith('"') and asked.endswith('"'), asked
        trigram = asked[1:-1].replace('""', '"')
        assert len(trigram) == search_terms.TRIGRAM and trigram in needle, (needle, asked)
