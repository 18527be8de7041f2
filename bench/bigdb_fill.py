"""The fixture of bench/bigdb.py: a year of a contact centre written in bulk (not what is measured).

50 operators in 5 teams and a supervisor, clients with a phone, half with an e-mail, one in ten with a
Telegram id, Cyrillic and Latin names (bench/search.py's people), one client in five coming back with
another lead, a company for a quarter of them, 1-5 interactions per lead, the default funnel's stages
following the status, the newest 5 % of leads still open, an open task per open lead. Core executemany on
SQLite, COPY on PostgreSQL, 5,000 leads a transaction.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import asyncio  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
from sqlalchemy import insert, make_url, select  # noqa: E402

from crm_store.migrate import upgrade  # noqa: E402
from crm_store.models import (  # noqa: E402
    Company, Contact, ContactCompany, Identity, Interaction, Lead, Pipeline, Stage, Task, Team, User,
)
from crm_store import search as store_search  # noqa: E402
from crm_store.session import create_engine  # noqa: E402
from crm_store.types import OPEN_STATUSES, Role, Viewer  # noqa: E402

search_bench = _paths.sibling("search")     # its people

SMALL = 1_000
CHUNK = 5_000
YEAR = timedelta(days=365)
T0 = datetime(2025, 12, 1, tzinfo=UTC)
AGENTS, TEAMS = 50, 5
SUPERVISOR_ID = AGENTS + 1
OPEN_SHARE = 0.05            # the newest leads still open
RETURNING = 5                # one lead in this many is a stored client's
CHANNELS = ("form", "form", "email", "voice", "telegram")
FIRST_NEW_POST = 5_000_000   # bench/ingest.py's phones for these are +7 912 5xx..., never a stored client's
SUPERVISOR = Viewer(user_id=SUPERVISOR_ID, role=Role.SUPERVISOR, team_id=None)


def operator(uid: int) -> Viewer:
    return Viewer(user_id=uid, role=Role.OPERATOR, team_id=(uid - 1) % TEAMS + 1)


# ---------------------------------------------------------------- the fixture


@dataclass(frozen=True, slots=True)
class Shape:
    leads: int

    @property
    def companies(self) -> int:
        return max(10, self.leads // 25)

    @staticmethod
    def returning(i: int) -> bool:
        return i > 2 * RETURNING and i % RETURNING == 0

    def contact_of(self, i: int) -> int:
        """Lead i's client: a new one (clients are numbered 1, 2, ... as they first come), or (one lead in
        RETURNING) an earlier lead's client."""
        while self.returning(i):
            # An earlier lead, spread over all of them (the mask breaks i * k = k (mod i - 1)).
            i = 1 + ((i * 2654435761) & 0xFFFFFFFF) % (i - 1)
        return i - max(0, i // RETURNING - 2)

    @property
    def contacts(self) -> int:
        return self.leads - max(0, self.leads // RETURNING - 2)

    def status(self, i: int) -> str:
        if i > self.leads * (1 - OPEN_SHARE) or i % 97 == 0:
            return ("new", "assigned", "in_progress", "in_progress", "assigned")[i % 5]
        return ("won", "lost", "lost", "closed", "won", "lost")[i % 6]


def staff(now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    teams = [{"id": t, "name": f"team {t}"} for t in range(1, TEAMS + 1)]
    users = [{"id": u, "username": f"op{u}", "display_name": f"Оператор {u}", "role": "operator",
              "password_hash": "-", "skills": {}, "capacity": {"voice": 1, "chat": 4}, "team_id": (u - 1) % TEAMS + 1,
              "locale": "ru", "time_zone": "Europe/Moscow", "active": True, "must_change_password": False,
              "created_at": now} for u in range(1, AGENTS + 1)]
    users.append({**users[0], "id": SUPERVISOR_ID, "username": "boss", "display_name": "Руководитель",
                  "role": "supervisor", "team_id": None})
    return teams, users


def rows_of(shape: Shape, start: int, stop: int, stages: dict[str, int], pipeline_id: int) -> dict[type, list]:
    """The rows of leads start..stop-1 (and their new clients), by model, in insertion order."""
    rng = random.Random(start)
    out: dict[type, list[dict[str, Any]]] = {m: [] for m in (Company, Contact, Identity, ContactCompany, Lead,
                                                               Interaction, Task)}
    step = YEAR / shape.leads
    for i in range(start, stop):
        at = T0 + step * i
        if i <= shape.companies:
            out[Company].append({"id": i, "name": f"ООО «Компания {i}»", "tax_id": f"77{i:08d}", "addresses": [],
                                 "phones": [], "emails": [], "custom": {}, "owner_id": None,
                                 "team_id": i % TEAMS + 1, "search_text": f"ооо «компания {i}»", "created_at": at,
                                 "updated_at": at, "deleted_at": None})
        contact = shape.contact_of(i)
        name, phone, mail, message = search_bench.person(contact, random.Random(contact))
        pairs = [("phone", phone)] + ([("email", mail)] if mail else [])
        if contact % 10 == 3:
            pairs.append(("telegram", str(100_000_000 + contact)))
        assignee = None
        status = shape.status(i)
        if status != "new":
            assignee = 1 + (contact * 31) % AGENTS
        if not shape.returning(i):
            out[Contact].append({"id": contact, "display_name": name, "owner_id": assignee,
                                 "merged_into_id": None, "tags": ["vip"] if contact % 17 == 0 else [], "custom": {},
                                 "created_at": at, "updated_at": at})
            out[Identity] += [{"contact_id": contact, "kind": k, "value": v, "confidence": "stated", "created_at": at}
                              for k, v in pairs]
            if contact % 4 == 0:
                out[ContactCompany].append({"contact_id": contact, "company_id": 1 + contact % shape.companies,
                                            "position": "менеджер", "created_at": at})
        channel = CHANNELS[i % len(CHANNELS)]
        touches = 1 + i % 5
        last = at + timedelta(minutes=7 * touches)
        closed = status not in OPEN_STATUSES
        team = None if assignee is None else (assignee - 1) % TEAMS + 1
        out[Lead].append({
            "id": i, "contact_id": contact, "status": status, "priority": 0, "channel": channel,
            "source": {"form": "site", "utm_source": "yandex", "utm_campaign": f"c{i % 9}"} if channel == "form" else {},
            "attributes": {}, "subject": None, "notes": "", "owner_id": assignee, "assignee_id": assignee,
            "assigned_at": at if assignee else None, "team_id": team,
            "outcome": {"won": "won", "lost": "lost", "closed": "resolved"}.get(status),
            "lost_reason": "дорого" if status == "lost" else None, "handed_over_to": None,
            "created_at": at, "updated_at": last, "last_activity_at": last, "closed_at": last if closed else None,
            "deleted_at": None, "company_id": 1 + contact % shape.companies if contact % 4 == 0 else None,
            "search_text": store_search.document(name, pairs, None, "", message), "pipeline_id": pipeline_id,
            "stage_id": stages[status], "stage_entered_at": at,
            "amount": (i % 50 + 1) * 100_000 if i % 3 == 0 else None, "currency": "RUB" if i % 3 == 0 else None,
            "close_date": None, "lost_reason_code": None})
        for k in range(touches):
            inbound = k % 2 == 0
            kind = channel if k == 0 else ("voice" if rng.random() < 0.3 else channel)
            attributes: dict[str, Any] = {}
            if kind == "voice":
                attributes = {"status": "answered" if rng.random() < 0.8 else "missed", "talk_seconds": rng.randint(5, 600),
                              "answered_by": assignee, "outcome": None}
            out[Interaction].append({
                "lead_id": i, "contact_id": contact, "channel": kind, "event_id": f"fill-{i}-{k}",
                "direction": "inbound" if inbound else "outbound",
                "text": message if k == 0 else ("Спасибо, перезвоню завтра." if inbound else "Добрый день! Отправили счёт."),
                "subject": "Заявка" if kind == "email" else None, "thread_ref": None, "attributes": attributes,
                "author_id": None if inbound else assignee, "delivery": None if inbound else "sent",
                "created_at": at + timedelta(minutes=7 * k)})
        if not closed or i % 10 == 0:
            out[Task].append({"lead_id": i, "contact_id": contact, "kind": "call", "origin": "manual",
                              "state": "done" if closed else "open", "due_at": last + timedelta(days=1),
                              "assignee_id": assignee, "created_by": assignee, "note": "Перезвонить по счёту",
                              "result": "ok" if closed else None, "closed_by": "user" if closed else None,
                              "routing_task_id": None, "reminded_at": None, "created_at": at, "updated_at": last,
                              "done_at": last if closed else None})
    return out


BULK_TABLES = ("companies", "contacts", "identities", "contact_companies", "leads", "interactions", "tasks")


def _plain(value: Any, sqlite: bool) -> Any:
    """A value as the driver takes it (what SQLAlchemy's bind processing would make of it, done once here)."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if sqlite and isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class BulkWriter:
    """Rows straight to the driver: SQLite's executemany, PostgreSQL's COPY (a fixture: the fill is not measured;
    SQLAlchemy's per-value bind processing would take most of its time)."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        self.url = url
        self.columns: dict[str, list[str]] = {}

    async def __aenter__(self) -> BulkWriter:
        # The tables' own indexes and the search index's trigger are dropped for the fill and made again after
        # it: building an index from sorted rows is several times faster than growing it row by row.
        if self.sqlite:
            self.db = sqlite3.connect(make_url(self.url).database, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA synchronous=OFF")
            self.later = [sql for name, sql in self.db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL "
                f"AND tbl_name IN ({', '.join('?' * len(BULK_TABLES))}) ORDER BY type", BULK_TABLES)]
            for kind, name in self.db.execute(
                    "SELECT type, name FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL "
                    f"AND tbl_name IN ({', '.join('?' * len(BULK_TABLES))})", BULK_TABLES).fetchall():
                self.db.execute(f"DROP {kind} {name}")
        else:
            self.pg = await asyncpg.connect(make_url(self.url).set(drivername="postgresql").render_as_string(False))
            self.later = [sql for name, sql in await self.pg.fetch(
                "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = ANY($1::text[]) AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", list(BULK_TABLES))]
            for row in await self.pg.fetch(
                    "SELECT indexname FROM pg_indexes i WHERE tablename = ANY($1::text[]) AND NOT EXISTS "
                    "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", list(BULK_TABLES)):
                await self.pg.execute(f'DROP INDEX "{row[0]}"')
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sqlite:
            for sql in self.later:
                self.db.execute(sql)
            self.db.execute(f"INSERT INTO {store_search.SQLITE_FTS}({store_search.SQLITE_FTS}) VALUES ('rebuild')")
            self.db.close()
        else:
            await self.pg.execute("SET maintenance_work_mem = '256MB'")
            for sql in self.later:
                await self.pg.execute(sql)
            await self.pg.close()

    async def write(self, chunk: dict[type, list[dict[str, Any]]]) -> None:
        if self.sqlite:
            await asyncio.to_thread(self._write_sqlite, chunk)
            return
        async with self.pg.transaction():
            for model, rows in chunk.items():
                if rows:
                    names = list(rows[0])
                    await self.pg.copy_records_to_table(model.__tablename__, columns=names, records=[
                        tuple(_plain(row[n], False) for n in names) for row in rows])

    def _write_sqlite(self, chunk: dict[type, list[dict[str, Any]]]) -> None:
        self.db.execute("BEGIN")
        for model, rows in chunk.items():
            if rows:
                names = list(rows[0])
                sql = f"INSERT INTO {model.__tablename__} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
                self.db.executemany(sql, [tuple(_plain(row[n], True) for n in names) for row in rows])
        self.db.execute("COMMIT")


async def fill(url: str, count: int) -> float:
    """Write `count` leads of the shape above into a database migrated to head; seconds taken."""
    started = time.perf_counter()
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            teams, users = staff(now)
            await conn.execute(insert(Team), teams)
            await conn.execute(insert(User), users)
            pipeline_id = await conn.scalar(select(Pipeline.id).order_by(Pipeline.position, Pipeline.id).limit(1))
            stages = {status: stage_id for stage_id, status in await conn.execute(
                select(Stage.id, Stage.status).where(Stage.pipeline_id == pipeline_id, Stage.status.is_not(None)))}
        shape = Shape(count)
        async with BulkWriter(url) as writer:
            writing: asyncio.Future[None] | None = None
            for start in range(1, count + 1, CHUNK):
                # The next chunk is made while the last one is written (the database's side runs outside the GIL).
                rows = await asyncio.to_thread(rows_of, shape, start, min(count + 1, start + CHUNK), stages,
                                               pipeline_id)
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(writer.write(rows))
                if start % 100_000 == 1 and start > 1:
                    print(f"    {start - 1} leads written ({time.perf_counter() - started:.0f} s)", file=sys.stderr,
                          flush=True)
            if writing is not None:
                await writing
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                for table in ("teams", "users", "companies", "contacts", "identities", "leads", "interactions",
                              "tasks"):
                    await conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                               f"(SELECT max(id) FROM {table}))")
        if engine.dialect.name == "postgresql":
            # PostgreSQL's autovacuum keeps statistics in a live database; SQLite has none unless someone runs
            # ANALYZE, and nothing in the service does: its file is left as a grown one would be.
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        await engine.dispose()
    return time.perf_counter() - started
