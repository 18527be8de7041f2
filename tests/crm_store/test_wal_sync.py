"""The SQLite writer's commits are synced by a thread of their own: callers hear of a commit only after its sync,
the writer goes on with the next batch meanwhile, a failed sync fails its callers, and the sync finds the WAL."""
from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_store import batch_writer
from crm_store.ingest import Ingestor, StoreUnavailable
from crm_store.session import DEFERRED_SYNC, create_engine, create_sync_engine
from crm_store.wal_sync import WalSync
from factories import phone, request

BOUND = 30.0    # seconds: only a hung writer takes this long


class HeldSync:
    """An fdatasync that waits until the test lets it go, then syncs (or fails, if told to)."""

    def __init__(self, error: OSError | None = None) -> None:
        self.reached = threading.Event()
        self.go = threading.Event()
        self.error = error
        self.calls = 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self.reached.set()
        if not self.go.wait(BOUND):
            raise OSError("the test never let the sync go")
        if self.error is not None:
            raise self.error
        os.fdatasync(fd)


@pytest.fixture
def database(sqlite_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "switchboard.db"
    shutil.copyfile(sqlite_template, path)
    return path


@pytest.fixture
async def engine(database: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    yield engine
    await engine.dispose()


def held(monkeypatch: pytest.MonkeyPatch, sync: HeldSync) -> None:
    monkeypatch.setattr(batch_writer, "WalSync", partial(WalSync, sync=sync))


def leads_stored(database: Path) -> int:
    with sqlite3.connect(database) as reader:
        return reader.execute("SELECT count(*) FROM leads").fetchone()[0]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(BOUND):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_commit_is_acknowledged_after_its_sync_and_the_writer_goes_on_meanwhile(engine, database, monkeypatch):
    sync = HeldSync()
    held(monkeypatch, sync)
    async with Ingestor(engine) as ingestor:
        first = asyncio.ensure_future(ingestor.ingest(request(phone("+79120000001"))))
        assert await asyncio.to_thread(sync.reached.wait, BOUND)
        assert leads_stored(database) == 1      # committed (another connection reads it) ...
        assert not first.done()                 # ... but its caller is not told before the sync
        second = asyncio.ensure_future(ingestor.ingest(request(phone("+79120000002"))))
        await until(lambda: ingestor.batches == 2)      # the writer did not wait for the first sync
        assert leads_stored(database) == 2 and not first.done() and not second.done()
        sync.go.set()
        stored = await asyncio.wait_for(asyncio.gather(first, second), BOUND)
    assert [result.created_lead for result in stored] == [True, True]
    assert sync.calls == 2      # one for the first commit, one for the second (queued during the first's)


async def test_a_sync_that_fails_fails_its_callers_as_the_store_being_down(engine, monkeypatch):
    sync = HeldSync(error=OSError(5, "Input/output error"))
    sync.go.set()
    held(monkeypatch, sync)
    async with Ingestor(engine) as ingestor:
        with pytest.raises(StoreUnavailable, match="Input/output error"):
            await asyncio.wait_for(ingestor.ingest(request(phone("+79120000003"))), BOUND)
        with pytest.raises(StoreUnavailable, match="Input/output error"):
            await asyncio.wait_for(ingestor.run_write(lambda session: session.execute(text("SELECT 1"))), BOUND)


async def test_other_writes_return_after_their_sync(engine, database, monkeypatch):
    sync = HeldSync()
    held(monkeypatch, sync)
    async with Ingestor(engine) as ingestor:
        write = asyncio.ensure_future(ingestor.run_write(
            lambda session: session.execute(text("UPDATE users SET active = active"))))
        assert await asyncio.to_thread(sync.reached.wait, BOUND)
        await ingestor._writer._thread.call(lambda: None)     # the write's commit has come back to the loop ...
        await asyncio.sleep(0)
        assert not write.done()                                 # ... and it waits for the sync
        sync.go.set()
        await asyncio.wait_for(write, BOUND)
    assert ingestor.wal_syncs == 1


def test_the_writer_leaves_the_wal_sync_to_its_thread_and_every_other_connection_syncs_its_commits(database):
    writer = create_sync_engine(f"sqlite:///{database}", syncs_itself=True)
    other = create_sync_engine(f"sqlite:///{database}")
    in_memory = create_sync_engine("sqlite:///:memory:", syncs_itself=True)    # no WAL: it keeps FULL
    try:
        with writer.connect() as w, other.connect() as o, in_memory.connect() as m:
            assert w.exec_driver_sql("PRAGMA synchronous").scalar() == 1        # NORMAL
            assert w.info[DEFERRED_SYNC] == str(database)
            assert o.exec_driver_sql("PRAGMA synchronous").scalar() == 2        # FULL
            assert m.exec_driver_sql("PRAGMA synchronous").scalar() == 2 and DEFERRED_SYNC not in m.info
    finally:
        for engine in (writer, other, in_memory):
            engine.dispose()


async def test_the_sync_finds_the_wal_file_again_when_it_is_replaced_or_gone(tmp_path):
    database = tmp_path / "a.db"
    database.write_bytes(b"database")
    wal = tmp_path / "a.db-wal"
    wal.write_bytes(b"frames")
    synced: list[int] = []
    wal_sync = WalSync(database, sync=lambda fd: synced.append(os.fstat(fd).st_ino))
    loop = asyncio.get_running_loop()

    async def one_sync() -> None:
        durable: asyncio.Future[None] = loop.create_future()
        wal_sync.durable(loop, durable)
        await asyncio.wait_for(durable, BOUND)

    await one_sync()
    replaced = tmp_path / "new-wal"
    replaced.write_bytes(b"other frames")
    inodes = [os.stat(wal).st_ino, os.stat(replaced).st_ino]
    os.replace(replaced, wal)
    await one_sync()
    wal.unlink()        # the last connection checkpointed the WAL into the database and removed it
    await one_sync()
    await asyncio.to_thread(wal_sync.stop)
    assert synced == [*inodes, os.stat(database).st_ino] and wal_sync.syncs == 3
