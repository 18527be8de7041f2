"""The WAL is copied into the database file by a thread of its own; the writer checkpoints itself only rarely."""
from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from crm_store.ingest import Ingestor
from crm_store.session import create_engine, create_sync_engine
from crm_store.wal_checkpoint import WRITER_AUTOCHECKPOINT_PAGES, WalCheckpointer
from factories import phone, request

BOUND = 30.0    # seconds: only a hung thread takes this long


@pytest.fixture
def database(sqlite_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "switchboard.db"
    shutil.copyfile(sqlite_template, path)
    return path


def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_the_writer_checkpoints_itself_rarely_and_every_other_connection_as_sqlite_does(database):
    writer = create_sync_engine(f"sqlite:///{database}", syncs_itself=True)
    other = create_sync_engine(f"sqlite:///{database}")
    try:
        with writer.connect() as w, other.connect() as o:
            assert w.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WRITER_AUTOCHECKPOINT_PAGES
            assert o.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        writer.dispose()
        other.dispose()


def test_a_nudge_copies_what_was_committed_into_the_database_file_while_a_reader_stays_open(database):
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")         # only the thread checkpoints here
    reader = sqlite3.connect(database, isolation_level=None)
    checkpointer = WalCheckpointer(database, every=0.0)
    try:
        for i in range(50):
            writer.execute("INSERT INTO teams (name) VALUES (?)", (f"team {i}",))
        assert reader.execute("SELECT count(*) FROM teams WHERE name LIKE 'team %'").fetchone() == (50,)
        checkpointer.nudge()
        wait_for(lambda: checkpointer.last is not None, "no checkpoint after a nudge")
        busy, frames, copied = checkpointer.last
        assert busy == 0 and frames > 0 and copied == frames      # every committed frame is in the database
        # Nothing is left for another checkpoint to copy.
        assert writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone() == (0, frames, frames)
    finally:
        checkpointer.stop()
        reader.close()
        writer.close()
    assert not checkpointer._thread.is_alive()


def test_it_waits_for_a_nudge_and_stops_while_waiting(database):
    checkpointer = WalCheckpointer(database, every=3600)
    time.sleep(0.05)
    assert checkpointer.checkpoints == 0       # no commit, no checkpoint
    checkpointer.nudge()
    wait_for(lambda: checkpointer.checkpoints == 1, "no checkpoint after a nudge")
    checkpointer.nudge()                        # paced: the next one would come an hour later ...
    started = time.monotonic()
    checkpointer.stop()                         # ... but stopping does not wait for it
    assert time.monotonic() - started < BOUND and checkpointer.checkpoints == 1


def test_a_database_it_cannot_open_leaves_the_checkpoints_to_the_writer(tmp_path, caplog):
    checkpointer = WalCheckpointer(tmp_path / "missing-folder" / "a.db")
    checkpointer._thread.join(BOUND)
    assert not checkpointer._thread.is_alive() and "no WAL checkpoint thread" in caplog.text
    checkpointer.stop()


async def test_the_intake_writer_nudges_its_checkpointer_after_its_commits(database):
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with Ingestor(engine) as ingestor:
            for i in range(3):
                await ingestor.ingest(request(phone(f"+7912000010{i}")))
            checkpointer = ingestor._writer._checkpointer
            assert checkpointer is not None
            await asyncio.to_thread(wait_for, lambda: checkpointer.last is not None, "the writer never nudged")
            assert checkpointer.last[0] == 0 and checkpointer.last[2] > 0
        assert not checkpointer._thread.is_alive()       # closed with the store
    finally:
        await engine.dispose()
