"""The SQLite writer's commits made durable by a thread of their own, while the writer goes on.

With `synchronous=FULL` a WAL commit ends with an fdatasync of the `-wal` file (~4 ms here) that the
writer thread sits through: a quarter of its time in the routed loop (bench/loop.py, 0.17 commits a
lead). The writer's connection runs `synchronous=NORMAL` instead, which writes the same WAL frames
and skips that one sync (WAL stays safe from corruption: SQLite still syncs around checkpoints), and
this thread does the fdatasync: one for every commit queued since its last, so the syncs group
themselves as the commits do. Nobody is told a write happened before its sync: the Ingestor settles
a batch's callers only when its `durable` future is done, so the acknowledgement contract (2xx,
SMTP 250, IMAP \\Seen, Telegram offset only after a durable commit) is FULL's.

What differs from FULL: for the few milliseconds between a commit and its sync another connection
may read the rows (a GET, a report). Every write acknowledged afterwards was synced after them, so a
power loss can only take rows nobody was told were stored.
"""
from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from crm_store.writer_thread import post_to, reject, resolve

_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class WalSync:
    """`durable(future)` after each commit: the future is done once the WAL holding that commit is on disk."""

    def __init__(self, database: Path, sync: Callable[[int], None] = os.fdatasync,
                 synced: Callable[[], None] = lambda: None) -> None:
        self._database = database
        self._synced = synced       # told after each sync: new frames are in the WAL (crm_store.wal_checkpoint)
        self._wal = Path(f"{database}-wal")
        self._sync = sync
        self._file: _OpenFile | None = None
        self._requests: queue.SimpleQueue[_Waiter | None] = queue.SimpleQueue()
        self.syncs = 0
        # A daemon as the writer thread is: a process ending without closing its store must not hang here;
        # what was not synced then was never acknowledged.
        self._thread = threading.Thread(target=self._serve, name="sqlite-wal-sync", daemon=True)
        self._thread.start()

    def durable(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
        """Called in the writer thread right after a commit returned: its frames are in the WAL file."""
        self._requests.put((loop, future))

    def stop(self) -> None:
        """Sync what was committed, then end the thread (blocking: call it off the loop)."""
        self._requests.put(None)
        self._thread.join()
        if self._file is not None:
            self._file.close()

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            first = self._requests.get()
            if first is None:
                return
            waiting = [first]
            # Everything committed by now: one sync covers all their frames.
            while True:
                try:
                    more = self._requests.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                waiting.append(more)
            try:
                self._sync_wal()
            except OSError as exc:
                for loop, future in waiting:
                    post_to(loop, reject, future, exc)
            else:
                for loop, future in waiting:
                    post_to(loop, resolve, future)
                self._synced()

    def _sync_wal(self) -> None:
        # One descriptor kept open (a write-back error reaches descriptors open before it, not after), opened
        # again if the WAL file was replaced. No WAL file: the last connection checkpointed it into the database
        # and removed it, so the database file is what holds the commits.
        try:
            current = os.stat(self._wal)
            path = self._wal
        except FileNotFoundError:
            current = os.stat(self._database)
            path = self._database
        if self._file is None or not self._file.same(current):
            if self._file is not None:
                self._file.close()
            self._file = _OpenFile(path)
        self._sync(self._file.fd)
        self.syncs += 1


class _OpenFile:
    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        stat = os.fstat(self.fd)
        self._key = (stat.st_dev, stat.st_ino)

    def same(self, stat: os.stat_result) -> bool:
        return self._key == (stat.st_dev, stat.st_ino)

    def close(self) -> None:
        os.close(self.fd)
