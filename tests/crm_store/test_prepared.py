"""Statements run through `crm_store.prepared` store and read back exactly what SQLAlchemy's own execution does:
on SQLite's synchronous driver (the writer thread's, where they skip SQLAlchemy's execution) the same stored text
and the same values; on PostgreSQL through SQLAlchemy as before. They count as statements and fail as SQLAlchemy's
errors."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from sqlalchemy import (Column, Connection, Integer, MetaData, String, Table, bindparam, event, insert, select, tuple_,
                        update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_store import lead_patch, leads
from crm_store.ingest import Ingestor
from crm_store.models import AuditEntry, Contact, Lead
from crm_store.prepared import Prepared, driver_sql
from crm_store.session import create_sync_engine
from crm_store.statements import COUNTER, STEP
from crm_store.types import LeadChanges, Permissions
from factories import T0
from test_lead_patch import IGNORED, STEPS, olga_and_two_leads

T = TypeVar("T")
MSK = timezone(timedelta(hours=3))
C, L, A = Contact.__table__, Lead.__table__, AuditEntry.__table__

NEW_CONTACT = Prepared(insert(C))
NEW_LEAD = Prepared(insert(L))
NEW_AUDIT = Prepared(insert(A))
LEADS = Prepared(select(L.c.id, L.c.contact_id, L.c.status, L.c.source, L.c.attributes, L.c.closed_at, L.c.created_at,
                        L.c.updated_at, L.c.last_activity_at, C.c.display_name.label("contact_name"), C.c.tags)
                 .join(C, C.c.id == L.c.contact_id).where(L.c.id.in_(bindparam("ids", expanding=True)))
                 .order_by(L.c.id))
RENAME = Prepared(update(C).where(C.c.id == bindparam("b_id"), C.c.display_name == "old")
                  .values(display_name=bindparam("b_name"), updated_at=bindparam("b_at")))


@pytest.fixture
def on_writer(engine: AsyncEngine, database_url: str) -> Iterator[Callable[..., Any]]:
    """Run `fn(connection)` in a transaction where the writer runs it: SQLite's synchronous driver, or asyncpg."""
    sync = create_sync_engine(database_url) if engine.dialect.name == "sqlite" else None

    async def run(fn: Callable[[Connection], T]) -> T:
        if sync is not None:
            with sync.begin() as connection:
                assert connection.dialect.driver == "pysqlite"
                return fn(connection)
        async with engine.begin() as connection:
            return await connection.run_sync(fn)

    yield run
    if sync is not None:
        sync.dispose()


def lead_row(n: int, **values: Any) -> dict[str, Any]:
    return {"id": n, "contact_id": n, "status": "new", "channel": "form", "source": {"form": "сайт"},
            "attributes": {"nested": {"list": [1, None, "два"]}}, "created_at": T0,
            "updated_at": T0 + timedelta(microseconds=7),
            "last_activity_at": datetime(2026, 11, 23, 12, 0, 1, tzinfo=MSK),
            **values}


async def test_values_are_stored_and_read_back_as_sqlalchemy_does(on_writer):
    contacts = [{"id": n, "display_name": None if n % 3 == 2 else f"Алёна {n}", "created_at": T0, "updated_at": T0}
                for n in range(1, 6)]
    contacts[2]["tags"] = ["vip", "опт"]    # dropped, as Core's executemany drops a key its first row lacks
    closed = T0 + timedelta(days=1)

    def write(connection: Connection) -> None:
        NEW_CONTACT.run(connection, contacts[:3])           # an executemany, column defaults filled in
        for contact in contacts[3:]:                         # Core's own execution, for the twin rows
            connection.execute(insert(C), contact)
        NEW_LEAD.run(connection, [lead_row(1, closed_at=None), lead_row(2, closed_at=closed)])
        NEW_LEAD.run(connection, lead_row(3, status="won", closed_at=datetime(2026, 11, 24, 1, 2, 3, 4, tzinfo=MSK),
                                          source={}, attributes={"n": None}))
        connection.execute(insert(L), [lead_row(4, closed_at=None), lead_row(5, closed_at=closed)])

    await on_writer(write)

    def read(connection: Connection) -> tuple[Any, ...]:
        return (LEADS.fetch(connection, {"ids": [5, 1, 2, 3, 4]}),
                connection.execute(LEADS.statement, {"ids": [1, 2, 3, 4, 5]}).all(),
                LEADS.fetch(connection, {"ids": [3, 3, 1]}), LEADS.fetch(connection, {"ids": []}),
                driver_sql(connection, "SELECT source, attributes, created_at, updated_at, last_activity_at, closed_at "
                                       "FROM leads ORDER BY id"),
                driver_sql(connection, "SELECT tags, custom, created_at, updated_at FROM contacts ORDER BY id"))

    prepared, core, some, none, stored_leads, stored_contacts = await on_writer(read)
    assert [tuple(row) for row in prepared] == [tuple(row) for row in core]
    assert [row._asdict() for row in prepared] == [row._asdict() for row in core]
    first, second, third = prepared[:3]
    assert first.last_activity_at == datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC)
    assert first.last_activity_at.tzinfo == UTC
    assert first.closed_at is None and second.closed_at == closed and second.contact_name is None
    assert third.closed_at == datetime(2026, 11, 23, 22, 2, 3, 4, tzinfo=UTC) and third.tags == []
    assert first.source == {"form": "сайт"} and first.attributes == {"nested": {"list": [1, None, "два"]}}
    assert third.source == {} and third.attributes == {"n": None} and first.tags == []
    assert [row.id for row in some] == [1, 3] and none == []
    # As stored: a row written here and its twin written by Core's own execution are the same text.
    assert stored_leads[0] == stored_leads[3] and stored_leads[1] == stored_leads[4]
    assert stored_leads[0][5] is None and stored_leads[1][5] is not None
    assert stored_contacts[0] == stored_contacts[3] == stored_contacts[4] == stored_contacts[1]


async def test_updates_with_the_statements_own_values_and_a_naive_time_refused(on_writer):
    def write(connection: Connection) -> None:
        NEW_CONTACT.run(connection, [{"id": n, "display_name": "old" if n < 3 else "kept", "created_at": T0,
                                      "updated_at": T0} for n in range(1, 4)])
        RENAME.run(connection, [{"b_id": n, "b_name": f"new {n}", "b_at": T0 + timedelta(hours=n)}
                                for n in range(1, 4)])

    await on_writer(write)

    def read(connection: Connection) -> list[Any]:
        return connection.execute(select(C.c.id, C.c.display_name, C.c.updated_at).order_by(C.c.id)).all()

    assert [tuple(row) for row in await on_writer(read)] == [
        (1, "new 1", T0 + timedelta(hours=1)), (2, "new 2", T0 + timedelta(hours=2)), (3, "kept", T0)]
    with pytest.raises(Exception, match="naive datetime"):
        await on_writer(lambda connection: RENAME.run(connection, {"b_id": 1, "b_name": "x",
                                                                   "b_at": datetime(2026, 1, 1)}))


async def test_errors_are_sqlalchemys_and_statements_are_counted(on_writer):
    row = {"id": 1, "display_name": "x", "created_at": T0, "updated_at": T0}
    audit = {"at": T0, "user_id": None, "action": "test", "outcome": "ok", "lead_id": None, "contact_id": None,
             "ip": None, "detail": {}}

    def write(connection: Connection) -> None:
        token = STEP.set("prepared test")
        # As crm_store.session attaches it when COUNT_SQL_STATEMENTS is set (the tests' engines are made without it).
        event.listen(connection.engine, "before_cursor_execute", COUNTER._count)
        try:
            before = COUNTER.by_step["prepared test"]
            NEW_CONTACT.run(connection, row)
            NEW_AUDIT.run(connection, [audit, audit, audit])       # one executemany: one statement
            LEADS.fetch(connection, {"ids": [1, 2, 3]})
            NEW_CONTACT.run(connection, [])                          # nothing to write: nothing sent
            assert COUNTER.by_step["prepared test"] - before == 3
            NEW_CONTACT.run(connection, row)
        finally:
            STEP.reset(token)
            event.remove(connection.engine, "before_cursor_execute", COUNTER._count)

    with pytest.raises(IntegrityError):
        await on_writer(write)


@pytest.fixture
async def ingestor(engine):  # type: ignore[no-untyped-def]
    async with Ingestor(engine, clock=lambda: T0) as running:
        yield running


async def test_a_patch_in_the_writer_changes_what_the_orm_changes(sessions, ingestor):
    """test_lead_patch's steps, the Core way run where it runs in production: the writer (SQLite's own driver)."""
    olga, ids = await olga_and_two_leads(sessions, ingestor, "+7912345679")
    orm_lead, core_lead = ids
    for n, step in enumerate(STEPS):
        at = T0 + timedelta(minutes=n + 1)
        changes = LeadChanges(**step)
        answers: list[Any] = []
        try:
            async with sessions() as s, s.begin():
                diff = await leads.update_lead(s, olga, orm_lead, changes, Permissions(), at)
                lead = await leads.just_checked(s, orm_lead)
                answers.append((diff, {k: getattr(lead, k) for k in lead_patch.LeadValues(
                    (c.key, None) for c in lead_patch._COLUMNS)}))
        except Exception as exc:        # noqa: BLE001 - compared with the Core way's
            answers.append((type(exc), getattr(exc, "field", None)))
        try:
            done = await ingestor.run_write(lambda s, changes=changes, at=at: lead_patch._patch_columns(
                s, olga, core_lead, changes, Permissions(), at))
            assert done is not None
            answers.append((done.diff, dict(done.lead)))
        except Exception as exc:        # noqa: BLE001
            answers.append((type(exc), getattr(exc, "field", None)))
        assert answers[0][0] == answers[1][0], step
        if isinstance(answers[0][1], dict):
            kept = {k: v for k, v in answers[0][1].items() if k not in IGNORED}
            assert kept == {k: v for k, v in answers[1][1].items() if k not in IGNORED}, step
    async with sessions() as s:
        rows = {lead.id: lead for lead in await s.scalars(select(Lead).where(Lead.id.in_(ids)))}
    stored = [{c.key: getattr(rows[i], c.key) for c in Lead.__table__.c if c.key not in IGNORED} for i in ids]
    assert stored[0] == stored[1] and stored[1]["status"] == "won"


async def test_what_only_sqlalchemy_can_run_goes_through_it(on_writer):
    """A default that takes the execution context, an IN list of tuples: SQLAlchemy's execution, same results."""
    table = Table("prepared_probe", MetaData(), Column("id", Integer, primary_key=True),
                  Column("name", String(20), default=lambda context: f"made {context.current_parameters['id']}"))
    new = Prepared(table.insert())
    pairs = Prepared(select(C.c.id).where(tuple_(C.c.id, C.c.display_name).in_(bindparam("pairs", expanding=True))))

    def work(connection: Connection) -> tuple[Any, ...]:
        table.create(connection)
        new.run(connection, [{"id": 1}, {"id": 2}])
        NEW_CONTACT.run(connection, {"id": 1, "display_name": "a", "created_at": T0, "updated_at": T0})
        return (connection.execute(select(table).order_by(table.c.id)).all(),
                [row.id for row in pairs.fetch(connection, {"pairs": [(1, "a"), (1, "b")]})])

    names, found = await on_writer(work)
    assert [tuple(row) for row in names] == [(1, "made 1"), (2, "made 2")] and found == [1]


async def test_in_lists_take_a_power_of_two_of_places_through_sqlalchemy_too(engine):
    """asyncpg prepares each statement text a connection has not kept: a text per length of an IN list made the
    card reads of group commits hundreds of statements. Through SQLAlchemy's execution (asyncpg, aiosqlite) a
    list is filled up to a power of two with its last value, as on the writer's own path: same rows."""
    sent: list[str] = []

    def keep(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "FROM leads JOIN contacts" in statement:
            sent.append(statement)

    def work(connection: Connection) -> list[list[int]]:
        assert connection.dialect.driver in ("asyncpg", "aiosqlite")
        for n in range(1, 10):
            NEW_CONTACT.run(connection, {"id": n, "display_name": f"c{n}", "created_at": T0, "updated_at": T0})
            NEW_LEAD.run(connection, lead_row(n))
        return [[row.id for row in LEADS.fetch(connection, {"ids": ids})]
                for ids in ([2, 1, 3], [4, 5, 6, 7], {1, 9, 8, 5, 2}, (9, 8, 7, 6, 5, 4, 3), [6])]

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        async with engine.begin() as connection:
            found = await connection.run_sync(work)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)
    assert found == [[1, 2, 3], [4, 5, 6, 7], [1, 2, 5, 8, 9], [3, 4, 5, 6, 7, 8, 9], [6]]
    places = sorted({statement.count(",", statement.index(" IN ")) + 1 for statement in sent})
    assert places == [1, 4, 8], sent
