"""A batch's new rows written by `insert_rows`: what Core's insert would store, in few statements on SQLite."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from crm_store.many_rows import MAX_ROWS, insert_rows
from crm_store.models import Contact, Lead

NOW = datetime(2026, 12, 6, 23, 0, 0, 123456, tzinfo=UTC)


async def test_rows_are_stored_with_their_defaults_types_and_in_few_statements(engine, sessions):
    count = 2 * MAX_ROWS + 3
    contacts = [{"id": i, "display_name": f"Алексей {i}", "created_at": NOW, "updated_at": NOW + timedelta(seconds=i)}
                for i in range(1, count + 1)]
    # A second shape of row (an owner given, tags given) in the same call.
    contacts.append({"id": count + 1, "display_name": None, "owner_id": None, "tags": ["vip", "опт"],
                     "created_at": NOW, "updated_at": NOW})
    leads = [{"id": i, "contact_id": i, "status": "new", "channel": "form", "source": {"form": "site", "utm": "яндекс"},
              "attributes": {"nested": {"n": i}}, "created_at": NOW, "updated_at": NOW, "last_activity_at": NOW}
             for i in range(1, 4)]
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda c: insert_rows(c, Contact.__table__, contacts))
            await connection.run_sync(lambda c: insert_rows(c, Lead.__table__, leads))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)

    async with sessions() as session:
        stored = {c.id: c for c in await session.scalars(select(Contact))}
        stored_leads = {lead.id: lead for lead in await session.scalars(select(Lead))}
    assert len(stored) == count + 1
    assert stored[7].display_name == "Алексей 7" and stored[7].tags == [] and stored[7].custom == {}
    assert stored[7].created_at == NOW and stored[7].updated_at == NOW + timedelta(seconds=7)
    assert stored[count + 1].tags == ["vip", "опт"] and stored[count + 1].display_name is None
    assert stored_leads[2].source == {"form": "site", "utm": "яндекс"} and stored_leads[2].attributes == {"nested": {"n": 2}}
    assert stored_leads[2].priority == 0 and stored_leads[2].notes == "" and stored_leads[2].last_activity_at == NOW
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    if engine.dialect.name == "sqlite":
        # 3 chunks of the first shape, 1 of the second, 1 for the leads: one statement each, not one per row.
        assert len(inserts) == 5
