"""Where a batch of inbound events is written: one transaction, on the engine's best path."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Session

from crm_store import routing_batch
from crm_store.leads import Card
from crm_store.new_rows import begin_write
from crm_store.routing_batch import RoutingChanges
from crm_store.resolution import JoinPolicy, resolve_batch
from crm_store.session import DEFERRED_SYNC, create_sync_engine, is_sqlite
from crm_store.stage_sync import ACTOR
from crm_store.statements import STEP
from crm_store.step_cpu import StepCpu
from crm_store.types import IngestRequest, IngestResult
from crm_store.write_gate import database_key, write_gate
from crm_store.wal_checkpoint import WalCheckpointer
from crm_store.wal_sync import WalSync
from crm_store.writer_thread import WriterThread, post_to, resolve


T = TypeVar("T")


class BatchWriter(Protocol):
    async def write(self, requests: list[IngestRequest], now: datetime,
                    routing: Sequence[RoutingChanges] = (), jobs: Sequence[Job] = ()) -> Committed:
        """Returns once committed; nobody may be told before `Committed.durable` is done."""
        ...

    async def run(self, work: Callable[[Session], T]) -> T:
        """`work`'s result once its commit is durable."""
        ...

    async def close(self) -> None: ...

    def cpu_seconds(self) -> float | None:
        """CPU the writes took, when they run in a thread of their own (else None: they share the loop's)."""
        ...

    def cpu_by_step(self) -> dict[str, float] | None:
        """The same CPU by step (intake, routing outcomes, each route's work, commit), or None."""
        ...

    def wal_syncs(self) -> int | None:
        """The fsyncs that made its commits durable, where it makes them itself (else None)."""
        ...


Written = tuple[list[IngestResult], list[dict[int, Card]], list[Any]]


@dataclass(frozen=True, slots=True)
class Committed:
    """A batch written and committed: its results, and when the commit is on disk (an OSError if it cannot be)."""

    written: Written
    durable: asyncio.Future[None]


def _already_durable(written: Written) -> Committed:
    durable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    durable.set_result(None)
    return Committed(written, durable)


def _write_batch(session: Session, requests: list[IngestRequest], policy: JoinPolicy, now: datetime,
                 routing: Sequence[RoutingChanges], jobs: Sequence[Job],
                 enter: Callable[[str], object] = STEP.set) -> Written:
    """`enter(step)` is told each step as it starts: what the statements and the CPU that follow are for."""
    enter("intake")
    begin_write(session)
    results = resolve_batch(session, requests, policy, now) if requests else []
    enter("routing outcomes")
    # Routing's outcomes queued meanwhile share the commit: their tasks were committed by earlier batches.
    cards = routing_batch.write_all(session, routing) if routing else []
    return results, cards, [_job(session, job, enter) for job in jobs]


def _job(session: Session, job: Job, enter: Callable[[str], object]) -> Any:
    """Its result. A job that raises fails the batch: the Ingestor runs each part alone then,
    so that its error is its own (no savepoint per job: two statements each, for the rare refusal).
    An `isolated` job runs in a savepoint instead: its error is returned as `JobFailed`, the others stand."""
    enter(job.step)
    try:
        if job.isolated:
            return _isolated(session, job)
        result = job.work(session)
        session.flush()     # its changes (and the stage history they make) are written under its own actor
        return result
    finally:
        session.info.pop(ACTOR, None)


def _isolated(session: Session, job: Job) -> Any:
    try:
        with session.begin_nested():
            result = job.work(session)
            session.flush()
        return result
    except Exception as exc:      # rolled back to its savepoint: the batch's other work is untouched
        return JobFailed(exc)


@dataclass(frozen=True, slots=True)
class JobFailed:
    """What an isolated job raised (its savepoint rolled back); the Ingestor raises it to that job's caller."""

    error: Exception


@dataclass(frozen=True, slots=True)
class Job:
    """Other store work that shares a group commit."""

    work: Callable[[Session], Any]
    step: str = "other"      # what its statements are counted under
    # In its own savepoint: work many callers queue at once (the voice's grants, answers, records), where
    # one refusal must neither lose the others nor cost the batch a second pass part by part.
    isolated: bool = False


class AsyncDriverWriter:
    """PostgreSQL: the batch runs as one greenlet whose statements go through asyncpg."""

    def __init__(self, engine: AsyncEngine, policy: JoinPolicy) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._policy = policy

    async def write(self, requests: list[IngestRequest], now: datetime,
                    routing: Sequence[RoutingChanges] = (), jobs: Sequence[Job] = ()) -> Committed:
        async with self._sessions() as session, session.begin():
            written = await session.run_sync(_write_batch, requests, self._policy, now, routing, jobs)
        return _already_durable(written)     # PostgreSQL's commit returned after its WAL flush

    async def run(self, work: Callable[[Session], T]) -> T:
        async with self._sessions() as session, session.begin():
            return await session.run_sync(work)

    async def close(self) -> None:
        return None

    def cpu_seconds(self) -> float | None:
        return None

    def cpu_by_step(self) -> dict[str, float] | None:
        return None

    def wal_syncs(self) -> int | None:
        return None


class SqliteThreadWriter:
    """SQLite: the whole batch in one writer thread on the synchronous driver.

    Through aiosqlite every statement is a round trip between the loop and the driver's
    thread (~0.3 ms each here); a batch needs a dozen. In one thread it is one hop per batch.
    Its commits leave the WAL's fsync to a `WalSync` thread and the thread goes on with the next batch;
    a `WalCheckpointer` thread copies the WAL into the database file, which the commits did themselves.
    """

    def __init__(self, url: str, policy: JoinPolicy) -> None:
        self._engine = create_sync_engine(url, syncs_itself=True)
        self._database = database_key(make_url(url))
        self._policy = policy
        self._thread = WriterThread("sqlite-writer")
        self._steps = StepCpu()
        self._wal_sync: WalSync | None = None      # made by the first commit that needs it, in the writer thread
        self._checkpointer: WalCheckpointer | None = None

    async def write(self, requests: list[IngestRequest], now: datetime,
                    routing: Sequence[RoutingChanges] = (), jobs: Sequence[Job] = ()) -> Committed:
        durable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # The gate is let go at the commit: the next write need not wait for this one's sync.
        async with write_gate(self._database):
            written = await self._thread.call(self._write, requests, now, routing, jobs, durable)
        return Committed(written, durable)

    def _write(self, requests: list[IngestRequest], now: datetime, routing: Sequence[RoutingChanges],
               jobs: Sequence[Job], durable: asyncio.Future[None]) -> Written:
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                written = _write_batch(session, requests, self._policy, now, routing, jobs, self._steps.enter)
                database = session.connection().info.get(DEFERRED_SYNC)
                self._steps.enter("commit")
            self._make_durable(database, durable)
            return written
        finally:
            self._steps.leave()

    async def run(self, work: Callable[[Session], T]) -> T:
        # The same single thread as the batches, behind the same gate as every other write of the process.
        durable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with write_gate(self._database):
            result = await self._thread.call(self._run, work, durable)
        await durable
        return result

    def _run(self, work: Callable[[Session], T], durable: asyncio.Future[None]) -> T:
        self._steps.enter("other writes")
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                begin_write(session)
                result = work(session)
                database = session.connection().info.get(DEFERRED_SYNC)
            self._make_durable(database, durable)
            return result
        finally:
            self._steps.leave()

    def _make_durable(self, database: str | None, durable: asyncio.Future[None]) -> None:
        """In the writer thread, right after a commit: `durable` is done once that commit is on disk."""
        loop = durable.get_loop()
        if database is None:        # a FULL commit: already synced
            post_to(loop, resolve, durable)
            return
        if self._wal_sync is None:
            self._checkpointer = WalCheckpointer(Path(database))
            self._wal_sync = WalSync(Path(database), synced=self._checkpointer.nudge)
        self._wal_sync.durable(loop, durable)

    def wal_syncs(self) -> int | None:
        return self._wal_sync.syncs if self._wal_sync is not None else None

    def cpu_seconds(self) -> float | None:
        return self._thread.cpu_seconds

    def cpu_by_step(self) -> dict[str, float] | None:
        return self._steps.seconds()

    async def close(self) -> None:
        await self._thread.call(self._engine.dispose)
        await self._thread.stop()
        if self._wal_sync is not None:
            await asyncio.to_thread(self._wal_sync.stop)
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)


def batch_writer(engine: AsyncEngine, policy: JoinPolicy) -> BatchWriter:
    url = engine.url.render_as_string(hide_password=False)
    if is_sqlite(url):
        return SqliteThreadWriter(url, policy)
    return AsyncDriverWriter(engine, policy)

