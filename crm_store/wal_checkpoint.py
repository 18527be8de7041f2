"""The WAL copied back into the database file by a thread of its own, beside the writer.

SQLite checkpoints automatically inside the commit that takes the WAL past `wal_autocheckpoint` pages
(1,000 by default): that commit copies those pages into the database file and syncs both files, while
the writer thread holds the write lock and every caller waits. Under the intake's load (group commits of
25 new clients on this machine) that was one commit in four to six, 10-70 ms each, where the others took
under 1 ms: most of the writer's time in commits. This thread runs PASSIVE checkpoints on its own connection
instead, at most one per `every` seconds while commits come: they copy what is committed without taking
the write lock or waiting for readers, while the writer goes on (sqlite3 lets go of the GIL meanwhile).

A PASSIVE checkpoint racing the writer's commits seldom finds the whole WAL copied at the moment the
writer begins its next transaction, which is what lets SQLite start the WAL over; so the writer keeps
an automatic checkpoint, rarer (`WRITER_AUTOCHECKPOINT_PAGES`): by then this thread has copied almost
everything, the writer's checkpoint is mostly its two syncs, and the WAL starts over after it. The
WAL's own durability is untouched: commits are synced by crm_store.wal_sync; a checkpoint syncs the
WAL before it copies and the database file after (the connection's default synchronous=FULL).
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# The writer's own automatic checkpoint, a safety net: the WAL never grows past ~16 MB of pages
# (4 KiB each) even when this thread's checkpoints never complete while commits keep coming.
WRITER_AUTOCHECKPOINT_PAGES = 4000
CHECKPOINT_EVERY = 0.05


class WalCheckpointer:
    """`nudge()` after commits; a PASSIVE checkpoint follows, at most one per `every` seconds."""

    def __init__(self, database: Path, every: float = CHECKPOINT_EVERY) -> None:
        self._database = database
        self._every = every
        self._nudged = threading.Event()
        self._stopping = threading.Event()
        self.checkpoints = 0
        self.last: tuple[int, int, int] | None = None     # (busy, WAL frames, frames copied) of the last one
        # A daemon as the writer thread is: what was committed is in the WAL, which any connection replays.
        self._thread = threading.Thread(target=self._serve, name="sqlite-wal-checkpoint", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        self._nudged.set()

    def stop(self) -> None:
        """End the thread (blocking: call it off the loop)."""
        self._stopping.set()
        self._nudged.set()
        self._thread.join()

    def _serve(self) -> None:
        try:
            # timeout=0: a PASSIVE checkpoint never waits on a lock, and neither should opening the connection.
            connection = sqlite3.connect(self._database, timeout=0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            # The writer's own automatic checkpoints still run (WRITER_AUTOCHECKPOINT_PAGES), only less often.
            log.error("no WAL checkpoint thread for %s: %s", self._database, exc)
            return
        try:
            while True:
                self._nudged.wait()
                if self._stopping.is_set():
                    return
                self._nudged.clear()
                self._checkpoint(connection)
                if self._stopping.wait(self._every):
                    return
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            # Nothing is lost: the pages stay in the WAL for the next checkpoint (ours or the writer's).
            log.warning("WAL checkpoint failed: %s", exc)
            return
        self.checkpoints += 1
        self.last = (busy, frames, copied)
