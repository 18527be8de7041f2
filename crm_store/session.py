"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""
from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

from sqlalchemy import Engine, event, text
from sqlalchemy import create_engine as create_sync_engine_
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from crm_store import connection_owner, json_columns
from crm_store.statements import COUNTER
from crm_store.wal_checkpoint import WRITER_AUTOCHECKPOINT_PAGES
from crm_store.write_gate import GatedSession

# The names the rest of the application types its store handles with: it never imports SQLAlchemy itself.
Store: TypeAlias = AsyncEngine
Session: TypeAlias = AsyncSession
Sessions: TypeAlias = async_sessionmaker[AsyncSession]


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _closed_on_checkout(_dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")     # the pool opens a new one


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine tuned for our write pattern: one group-committing writer, many readers."""
    if not is_sqlite(url):
        # No pool_pre_ping: with asyncpg it is three round trips (BEGIN, ";", ROLLBACK) on every checkout, more
        # than the one statement many sessions send. A connection the server ended while it sat in the pool
        # (a restart, pg_terminate_backend, an idle timeout) is one asyncpg has seen close already: it is
        # replaced at checkout, without a round trip (`_closed_on_checkout`). One that dies unseen fails its
        # statement as it would have failed a moment after a ping; SQLAlchemy then drops the whole pool.
        engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10,
                                     json_serializer=json_columns.dumps, json_deserializer=json_columns.loads)
        event.listen(engine.sync_engine.pool, "checkout", _closed_on_checkout)
    else:
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30},
                                     json_serializer=json_columns.dumps, json_deserializer=json_columns.loads)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    COUNTER.attach(engine.sync_engine)
    if connection_owner.enabled():
        connection_owner.attach(engine.sync_engine)
    return engine


def create_sync_engine(url: str, *, syncs_itself: bool = False) -> Engine:
    """A synchronous engine on the same SQLite file, for work done in one worker thread.

    `syncs_itself`: its commits skip their own fsync of the WAL (`synchronous=NORMAL`) because the caller makes
    each one durable before anyone is told of it (crm_store.wal_sync); where the file is not in WAL mode they
    stay FULL. `DEFERRED_SYNC` in a connection's `info` is then the database file the caller syncs."""
    sync_url = make_url(url).set(drivername="sqlite+pysqlite")
    engine = create_sync_engine_(sync_url, connect_args={"timeout": 30, "check_same_thread": False},
                                 json_serializer=json_columns.dumps, json_deserializer=json_columns.loads)
    event.listen(engine, "connect", _deferred_sync_pragmas if syncs_itself else _sqlite_pragmas)
    COUNTER.attach(engine)
    return engine


DEFERRED_SYNC = "switchboard.deferred_sync"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    _set_pragmas(dbapi_connection, deferred_sync=False)


def _deferred_sync_pragmas(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    if _set_pragmas(dbapi_connection, deferred_sync=True):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA database_list")
        record.info[DEFERRED_SYNC] = {name: file for _, name, file in cursor.fetchall()}["main"]
        cursor.close()


def _set_pragmas(dbapi_connection, *, deferred_sync: bool) -> bool:  # type: ignore[no-untyped-def]
    """Whether this connection's commits leave the WAL's fsync to someone else."""
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; FULL makes every commit durable, and group
    # commit is what keeps that affordable.
    cursor.execute("PRAGMA journal_mode=WAL")
    wal = str(cursor.fetchone()[0]).lower() == "wal"
    deferred = deferred_sync and wal
    cursor.execute("PRAGMA synchronous=NORMAL" if deferred else "PRAGMA synchronous=FULL")
    if deferred:        # its checkpoints are mostly done by crm_store.wal_checkpoint's thread
        cursor.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    return deferred


def session_factory(engine: AsyncEngine) -> Sessions:
    # Objects stay readable after commit: callers build responses from them.
    if engine.dialect.name == "sqlite":
        # Every write transaction queues behind the process's one SQLite writer (crm_store.write_gate).
        return async_sessionmaker(engine, expire_on_commit=False, class_=GatedSession)
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(sessions: Sessions) -> None:
    """One round trip to the database; raises whatever the driver raises if it cannot answer."""
    async with sessions() as session:
        await session.execute(text("SELECT 1"))


ASYNC_URL_HINT = "expected postgresql+asyncpg://user:password@host/db or sqlite+aiosqlite:///path"


def check_async_url(url: str) -> None:
    """Raise ValueError with one line when `url` is not a database URL with an asyncio driver."""
    try:
        dialect = make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise ValueError(f"not a database URL SQLAlchemy knows; {ASYNC_URL_HINT}") from None
    if not getattr(dialect, "is_async", False):
        raise ValueError(f"needs an asyncio driver; {ASYNC_URL_HINT}")


def shown_url(url: str) -> str:
    """The URL as it may be printed: without its password."""
    return make_url(url).render_as_string(hide_password=True)


class StoreUnreachable(Exception):
    """The database refused or could not be reached; the message says why, in one line."""


def store_error_reason(exc: BaseException) -> str | None:
    """Why a database call failed, from the driver's own error, or None when `exc` is not the store's."""
    if isinstance(exc, DBAPIError):
        return _one_line(exc.orig if exc.orig is not None else exc)
    return None


async def probe(url: str) -> None:
    """Connect once; raise StoreUnreachable naming the driver's reason."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        # Said before aiosqlite is tried: its worker thread, failing to open the file, can outlive the
        # loop and print its own traceback at exit.
        folder = Path(parsed.database).expanduser().parent
        if not folder.is_dir():
            raise StoreUnreachable(f"unable to open database file: folder {folder} does not exist")
    engine = create_engine(url)
    try:
        async with engine.connect():
            pass
    except (OSError, DBAPIError) as exc:
        raise StoreUnreachable(store_error_reason(exc) or _one_line(exc)) from exc
    except Exception as exc:        # e.g. asyncpg's refusal of a password or of an unknown database
        if type(exc).__module__.split(".")[0] not in ("asyncpg", "aiosqlite", "sqlite3"):
            raise
        raise StoreUnreachable(_one_line(exc)) from exc
    finally:
        await engine.dispose()


def _one_line(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    return " ".join(text.split())[:300]
