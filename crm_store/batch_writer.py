"""Where a batch of inbound events is written: one transaction, on the engine's best path."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Session

from crm_store import routing_batch
from crm_store.leads import Card
from crm_store.new_rows import begin_write
from crm_store.routing_batch import RoutingChanges
from crm_store.resolution import JoinPolicy, resolve_batch
from crm_store.session import create_sync_engine, is_sqlite
from crm_store.stage_sync import ACTOR
from crm_store.statements import STEP
from crm_store.step_cpu import StepCpu
from crm_store.types import IngestRequest, IngestResult
from crm_store.write_gate import database_key, write_gate
from crm_store.writer_thread import WriterThread


T = TypeVar("T")


class BatchWriter(Protocol):
    async def write(self, requests: list[IngestRequest], now: datetime,
                    routing: Sequence[RoutingChanges] = (), jobs: Sequence[Job] = ()) -> Written: ...

    async def run(self, work: Callable[[Session], T]) -> T: ...

    async def close(self) -> None: ...

    def cpu_seconds(self) -> float | None:
        """CPU the writes took, when they run in a thread of their own (else None: they share the loop's)."""
        ...

    def cpu_by_step(self) -> dict[str, float] | None:
        """The same CPU by step (intake, routing outcomes, each route's work, commit), or None."""
        ...


Written = tuple[list[IngestResult], list[dict[int, Card]], list[Any]]


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
                    routing: Sequence[RoutingChanges] = (), jobs: Sequence[Job] = ()) -> Written:
        async with self._sessions() as session, session.begin():
            return await session.run_sync(_write_batch, requests, self._policy, now, routing, jobs)

    async def run(self, work: Callable[[Session], T]) -> T:
        async with self._sessions() as session, session.begin():
            return await session.run_sync(work)

    async def close(self) -> None:
        return None

    def cpu_seconds(self) -> float | None:
        return None

    def cpu_by_step(self) -> dict[str, float] | None:
        return None


class SqliteThreadWriter:
    """SQLite: the whole batch in one writer thread on the synchronous driver.

    Through aiosqlite every statement is a round trip between the loop and the driver's
    thread (~0.3 ms each here); a batch needs a dozen. In one thread it is one hop per batch.
    """

    def __init__(self, url: str, policy: JoinPolicy) -> None:
        self._engine = create_sync_engine(url)
        self._database = database_key(make_url(url))
        self._policy = policy
        self._thread = WriterThread("sqlite-writer")
        self._steps = StepCpu()

    async def write(self, requests: list[IngestRequest], now: datetime,
                    routing: Sequence[RoutingChanges] = (), jobs: Sequence[Job] = ()) -> Written:
        async with write_gate(self._database):
            return await self._thread.call(self._write, requests, now, routing, jobs)

    def _write(self, requests: list[IngestRequest], now: datetime, routing: Sequence[RoutingChanges],
               jobs: Sequence[Job]) -> Written:
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                written = _write_batch(session, requests, self._policy, now, routing, jobs, self._steps.enter)
                self._steps.enter("commit")
            return written
        finally:
            self._steps.leave()

    async def run(self, work: Callable[[Session], T]) -> T:
        # The same single thread as the batches, behind the same gate as every other write of the process.
        async with write_gate(self._database):
            return await self._thread.call(self._run, work)

    def _run(self, work: Callable[[Session], T]) -> T:
        self._steps.enter("other writes")
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                begin_write(session)
                return work(session)
        finally:
            self._steps.leave()

    def cpu_seconds(self) -> float | None:
        return self._thread.cpu_seconds

    def cpu_by_step(self) -> dict[str, float] | None:
        return self._steps.seconds()

    async def close(self) -> None:
        await self._thread.call(self._engine.dispose)
        await self._thread.stop()


def batch_writer(engine: AsyncEngine, policy: JoinPolicy) -> BatchWriter:
    url = engine.url.render_as_string(hide_password=False)
    if is_sqlite(url):
        return SqliteThreadWriter(url, policy)
    return AsyncDriverWriter(engine, policy)

