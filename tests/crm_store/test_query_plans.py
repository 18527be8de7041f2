"""The reads a big database makes slow use indexes: SQLite's own plan of each, on a database without statistics.

SQLite plans without statistics (nothing runs ANALYZE) the same on ten rows as on a million, so a small file
shows the plan a grown one gets. bench/bigdb.py measures the same reads on 1,000,000 leads (`--explain` prints
every plan there, on both engines).
"""
from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert, select

from crm_store import batch_state, board, lead_lines, leads, routing_batch
from crm_store.models import AgentActivity, Contact, Identity, Interaction, Lead, Pipeline, Task, User
from crm_store.session import create_engine, session_factory
from crm_store.types import OPEN_STATUSES, Claim, IngestRequest, LeadFilter, Role, Viewer

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BIG = ("leads", "interactions", "contacts", "identities", "tasks")
BOSS = Viewer(user_id=1, role=Role.SUPERVISOR, team_id=None)
AGENT = Viewer(user_id=2, role=Role.OPERATOR, team_id=None)
OPEN = tuple(sorted(OPEN_STATUSES))


@pytest.fixture
async def store(sqlite_template, tmp_path):
    path = tmp_path / "plans.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.execute(insert(User), [{"id": i, "username": f"u{i}", "display_name": f"U{i}", "role": role,
                                           "password_hash": "-", "skills": {}, "capacity": {}, "created_at": T0}
                                          for i, role in ((1, "supervisor"), (2, "operator"))])
        await conn.execute(insert(Contact), [{"id": i, "display_name": f"C{i}", "created_at": T0, "updated_at": T0}
                                             for i in (1, 2)])
        await conn.execute(insert(Identity), [{"contact_id": i, "kind": "phone", "value": f"+7912000000{i}",
                                               "confidence": "stated", "created_at": T0} for i in (1, 2)])
        pipeline_id = await conn.scalar(select(Pipeline.id).limit(1))
        await conn.execute(insert(Lead), [{
            "id": i, "contact_id": i, "status": status, "channel": "form", "source": {}, "attributes": {},
            "assignee_id": assignee, "created_at": T0, "updated_at": T0, "last_activity_at": T0 + timedelta(hours=i),
            "pipeline_id": pipeline_id} for i, status, assignee in ((1, "new", None), (2, "assigned", 2))])
        await conn.execute(insert(Interaction), [{"lead_id": i, "contact_id": i, "channel": "form", "event_id": f"e{i}",
                                                  "direction": "inbound", "attributes": {}, "created_at": T0}
                                                 for i in (1, 2)])
        await conn.execute(insert(Task), [{"lead_id": 2, "contact_id": 2, "kind": "call", "due_at": T0, "assignee_id": 2,
                                           "created_at": T0, "updated_at": T0}])
    yield engine, path, pipeline_id
    await engine.dispose()


async def plans_of(engine, path, work) -> dict[str, list[str]]:
    """Each SELECT `work` runs, with SQLite's plan of it (EXPLAIN QUERY PLAN, the statement's own parameters)."""
    seen: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        await work()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() == (0,)
        return {statement: [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + statement, parameters or ())]
                for statement, parameters in seen}


def full_scans(plans: dict[str, list[str]]) -> list[str]:
    return [line for plan in plans.values() for line in plan
            if line.startswith("SCAN ") and line.split()[1] in BIG and "INDEX" not in line]


def plan_of(plans: dict[str, list[str]], fragment: str) -> list[str]:
    """The plan of the first statement with `fragment` in it."""
    found = [plan for statement, plan in plans.items() if fragment in " ".join(statement.split())]
    assert found, f"no statement with {fragment!r} in {list(plans)}"
    return found[0]


@pytest.mark.parametrize("viewer, f, index", [
    (BOSS, LeadFilter(status=OPEN), "ix_leads_last_activity_at_id"),
    (AGENT, LeadFilter(status=OPEN, assignee_id=2), "ix_leads_assignee_id_last_activity_at"),
    (AGENT, LeadFilter(pool=True), "ix_leads_assignee_id_last_activity_at"),
], ids=["supervisor-open", "operator-mine", "pool"])
async def test_a_work_list_page_is_read_newest_first_off_an_index_not_sorted(store, viewer, f, index):
    engine, path, _ = store
    sessions = session_factory(engine)

    async def work():
        async with sessions() as session:
            found = await leads.list_leads(session, viewer, f)
            assert found
            await leads.contact_summaries(session, {x.contact_id for x in found})
            await lead_lines.lines(session, found)

    plans = await plans_of(engine, path, work)
    page = plan_of(plans, "SELECT leads.id")
    assert any(index in line for line in page), page
    assert not any("TEMP B-TREE" in line for line in page), page
    tasks = plan_of(plans, "SELECT tasks.id")
    assert any("ix_tasks_lead_id_state_due_at" in line for line in tasks), tasks
    assert full_scans(plans) == []


async def test_the_card_the_board_and_the_intake_lookups_scan_no_big_table(store):
    engine, path, pipeline_id = store
    sessions = session_factory(engine)
    wanted = [IngestRequest(channel="form", event_id="e1", received_at=T0,
                            claims=(Claim("phone", "+79120000001", True, "stated"),))]

    async def work():
        async with sessions() as session:
            await leads.card(session, BOSS, 2)
            await board.board(session, BOSS, board.BoardFilter(pipeline_id=pipeline_id))
            await board.board(session, AGENT, board.BoardFilter(pipeline_id=pipeline_id))
            await session.run_sync(lambda s: (batch_state.already_stored(s, wanted),
                                              batch_state.prefetch(s, wanted, timedelta(days=30), T0)))

    plans = await plans_of(engine, path, work)
    assert full_scans(plans) == []
    identities = plan_of(plans, "FROM identities WHERE identities.kind =")
    assert any("USING INDEX sqlite_autoindex_identities" in line for line in identities), identities
    timeline = plan_of(plans, "FROM interactions WHERE interactions.lead_id =")
    assert any("SEARCH interactions USING INDEX" in line for line in timeline), timeline


async def test_the_intake_finds_a_known_clients_open_routing_tasks_by_their_lead(store):
    """Not by their state: every waiting task of the store (thousands when nobody takes them) would be read."""
    engine, path, pipeline_id = store
    sessions = session_factory(engine)
    more = range(3, 13)      # a batch of returning clients: more of their leads than there are open states
    async with engine.begin() as conn:
        await conn.execute(insert(Contact), [{"id": i, "display_name": f"C{i}", "created_at": T0, "updated_at": T0}
                                             for i in more])
        await conn.execute(insert(Identity), [{"contact_id": i, "kind": "phone", "value": f"+791200000{i:02d}",
                                               "confidence": "stated", "created_at": T0} for i in more])
        await conn.execute(insert(Lead), [{
            "id": i, "contact_id": i, "status": "new", "channel": "form", "source": {}, "attributes": {},
            "created_at": T0, "updated_at": T0, "last_activity_at": T0, "pipeline_id": pipeline_id} for i in more])
    known = [IngestRequest(channel="form", event_id=f"again-{i}", received_at=T0,
                           claims=(Claim("phone", f"+791200000{i:02d}", True, "stated"),)) for i in more]

    async def work():
        async with sessions() as session:
            state = await session.run_sync(lambda s: batch_state.prefetch(s, known, timedelta(days=30), T0))
            assert len(state.leads) == len(more)      # their open leads were found: their tasks were asked for

    plans = await plans_of(engine, path, work)
    tasks = plan_of(plans, "FROM routing_tasks")
    assert tasks and all("ix_routing_tasks_lead_id" in line for line in tasks), tasks


async def test_a_search_walks_the_trigram_index_newest_first_and_sorts_only_its_candidates(store):
    """The FTS5 index drives (its rowids newest first, each lead then by primary key, cut at the candidates):
    never leads scanned and checked against the index row by row, never every match sorted."""
    engine, path, _ = store
    sessions = session_factory(engine)

    async def work():
        async with sessions() as session:
            await leads.list_leads(session, AGENT, LeadFilter(q="client536776@example.ru"))

    plans = await plans_of(engine, path, work)
    page = plan_of(plans, "leads_search")
    assert any(line.startswith("SCAN leads_search VIRTUAL TABLE") for line in page), page
    assert any(line == "SEARCH leads USING INTEGER PRIMARY KEY (rowid=?)" for line in page), page
    assert sum("TEMP B-TREE" in line for line in page) == 1, page     # the page's own order of the candidates
    assert full_scans(plans) == []


async def test_the_agents_last_activity_is_each_one_newest_row_off_the_index_not_their_whole_history(store):
    """Read on every routing outcome: a window over all of an agent's rows read a year of history each time."""
    engine, path, _ = store
    sessions = session_factory(engine)
    history = [(user, ("available", "busy")[n % 2], None, T0 + timedelta(minutes=n))
               for user in (1, 2) for n in range(30)]
    history += [(2, "break", "lunch", T0 + timedelta(minutes=29))]     # a tie on the time: the later row is the last
    async with engine.begin() as conn:
        await conn.execute(insert(AgentActivity), [{"user_id": u, "state": s, "reason": r, "source": "routing",
                                                    "started_at": at} for u, s, r, at in history])
    later = T0 + timedelta(hours=1)

    async def work():
        async with sessions() as session, session.begin():
            # Agent 1 is busy already (nothing to add); agent 2 leaves lunch.
            await session.run_sync(lambda s: routing_batch._record_activity(s, [
                (1, "busy", None, "routing", later), (2, "available", None, "routing", later)]))

    plans = await plans_of(engine, path, work)
    async with sessions() as session:
        added = (await session.execute(select(AgentActivity.user_id, AgentActivity.state)
                                       .where(AgentActivity.started_at == later))).all()
    assert added == [(2, "available")]
    last = plan_of(plans, "FROM agent_activity")
    assert any("CORRELATED SCALAR SUBQUERY" in line for line in last), last
    assert not any("TEMP B-TREE" in line for line in last), last
