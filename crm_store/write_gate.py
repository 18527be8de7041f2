"""One writer at a time on a SQLite file within this process, first come first served.

SQLite has one write lock per file. Writers that meet it wait in SQLite's busy handler, which sleeps
and polls (1 ms ... 100 ms) instead of queueing: under load a writer that commits often (the intake's
group commit) takes the lock again and again while a PATCH or a sign-in polls until its busy timeout
runs out and answers "database is locked". Here every write transaction of the process (the group
commit and every `session.begin()`) queues on one asyncio lock instead, in arrival order, so SQLite's
lock is always free when a transaction asks for it. Readers do not queue: WAL lets them read beside
the writer.
"""
from __future__ import annotations

import asyncio
import weakref
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction


class WriteGate:
    """An asyncio lock that the task holding it may take again (a write nested in a write)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0

    async def acquire(self) -> None:
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            self._depth += 1
            return
        await self._lock.acquire()
        self._owner, self._depth = task, 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    async def __aenter__(self) -> WriteGate:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()


# One gate per database file and event loop (tests run several loops in one process).
_GATES: dict[str, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriteGate]] = {}


def write_gate(database: str) -> WriteGate:
    """The gate of the SQLite file `database` (its path as the URL names it) on the running loop."""
    per_loop = _GATES.setdefault(database, weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    gate = per_loop.get(loop)
    if gate is None:
        gate = per_loop[loop] = WriteGate()
    return gate


class _GatedBegin:
    """`async with session.begin()` that first waits for the file's gate, and gives it back after the commit."""

    def __init__(self, database: str, transaction: AsyncSessionTransaction) -> None:
        self._database = database
        self._transaction = transaction
        self._gate: WriteGate | None = None

    async def __aenter__(self) -> AsyncSessionTransaction:
        self._gate = write_gate(self._database)
        await self._gate.acquire()
        try:
            return await self._transaction.__aenter__()
        except BaseException:
            self._gate.release()
            raise

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            await self._transaction.__aexit__(kind, exc, tb)
        finally:
            assert self._gate is not None
            self._gate.release()


class GatedSession(AsyncSession):
    """An AsyncSession on SQLite whose explicit transactions (`session.begin()`) pass the write gate."""

    def begin(self) -> Any:     # an async context manager, like AsyncSession.begin's
        bind = self.bind
        assert bind is not None
        return _GatedBegin(database_key(bind.url), super().begin())


def database_key(url: Any) -> str:
    """The file a SQLite URL names, whichever driver the URL picks."""
    return str(url.database or ":memory:")
