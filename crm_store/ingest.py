"""Group commit: every inbound event waits for a durable commit, and many share one.

Callers `await ingestor.ingest(request)`; a single writer task takes whatever has queued up
while the previous commit was running and writes it in one transaction. Under light load a
batch is one event and latency is one commit; under heavy load batches grow by themselves, so
the cost of the fsync is shared and throughput rises instead of collapsing. No timer waits for
a batch to fill. Routing's outcomes (`record_routing`) and other store work (`write_soon`) queue
here too and share the commit: on SQLite this is the process's one writer.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from crm_store.batch_writer import BatchWriter, Committed, Job, JobFailed, Written, batch_writer
from crm_store.in_writer import AsyncWork, run_to_end
from crm_store.errors import Invalid
from crm_store.leads import Card
from crm_store.routing_batch import RoutingChanges
from crm_store.resolution import JoinPolicy
from crm_store.storable import storable
from crm_store.types import IngestRequest, IngestResult

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
T = TypeVar("T")


class StoreUnavailable(RuntimeError):
    """The event was not committed; the sender should retry."""


class EventRefused(Invalid):
    """The store refuses this one event for good (its data, not the store's health): do not retry it."""


def utcnow() -> datetime:
    return datetime.now(UTC)


_STORE_FAULTS = (OperationalError, InterfaceError, ProgrammingError, InternalError, NotSupportedError)

_Pending = tuple[IngestRequest | RoutingChanges | Job, "asyncio.Future[Any]"]
FILL_TURNS = 8      # loop turns a batch may wait for events already on their way (see Ingestor._gather)


class Ingestor:
    """Serializes writes of inbound events into group commits."""

    def __init__(
        self,
        engine: AsyncEngine,
        policy: JoinPolicy = JoinPolicy(),
        *,
        max_batch: int = 500,
        clock: Clock = utcnow,
    ) -> None:
        self._writer: BatchWriter = batch_writer(engine, policy)
        self._max_batch = max_batch
        self._clock = clock
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0
        self.events = 0
        self.write_seconds = 0.0
        # Batches committed whose callers wait for the commit's sync (SQLite's WalSync) while the next is written.
        self._unsynced: set[asyncio.Future[None]] = set()
        # Told the size of every group commit (the gateway's metrics); must not raise or block.
        self.on_batch: Callable[[int], None] | None = None

    @property
    def writer_cpu_seconds(self) -> float | None:
        """CPU of the SQLite writer thread so far (None on PostgreSQL, whose writes run on the loop)."""
        return self._writer.cpu_seconds()

    def writer_cpu_by_step(self) -> dict[str, float] | None:
        """That CPU by step: intake, routing outcomes, each route's work, commit (None on PostgreSQL)."""
        return self._writer.cpu_by_step()

    @property
    def wal_syncs(self) -> int | None:
        """fsyncs that made the commits durable (SQLite: one for every commit queued since the last); else None."""
        return self._writer.wal_syncs()

    async def __aenter__(self) -> Ingestor:
        self._worker = asyncio.create_task(self._run(), name="crm_store.ingestor")
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Let accepted events finish their commit before the store goes away.
        await self._queue.join()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        await asyncio.gather(*self._unsynced, return_exceptions=True)
        await self._writer.close()

    async def ingest(self, request: IngestRequest) -> IngestResult:
        """Store `request` exactly once; returns after the commit that made it durable."""
        if self._worker is None or self._worker.done():
            raise StoreUnavailable("ingestor is not running")
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((storable(request), future))
        return await future

    async def record_routing(self, changes: RoutingChanges) -> dict[int, Card]:
        """Write routing's outcome in the next group commit; returns the cards it asked for, after the commit."""
        if self._worker is None or self._worker.done():
            raise StoreUnavailable("ingestor is not running")
        future: asyncio.Future[dict[int, Card]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((changes, future))
        return await future

    async def write_soon(self, work: AsyncWork[T], step: str = "other") -> T:
        """Run `work(session)` (store functions written for an AsyncSession, nothing else awaited) in the next
        group commit; if it raises, the batch is written again part by part: its error is its own.
        Returns after the commit; `step` names its statements when they are counted."""
        if self._worker is None or self._worker.done():
            raise StoreUnavailable("ingestor is not running")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((Job(lambda session: run_to_end(session, work), step), future))
        return await future

    async def write_in_batch(self, work: Callable[[Session], T], step: str = "other") -> T:
        """Run `work(session)` in the next group commit, in a savepoint of its own: if it raises, only its
        changes are undone and its caller gets the error (StoreUnavailable when the store failed, not the work).
        Returns after the commit."""
        if self._worker is None or self._worker.done():
            raise StoreUnavailable("ingestor is not running")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((Job(work, step, isolated=True), future))
        return await future

    async def run_write(self, work: Callable[[Session], T]) -> T:
        """Run other writes through the same writer (on SQLite: its thread, between batches), committed on return."""
        try:
            return await self._writer.run(work)
        except (DBAPIError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await self._gather(batch)
            try:
                await self._commit(batch)
            except Exception:  # never let one bad batch stop the writer
                log.exception("ingest batch failed")
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _gather(self, batch: list[_Pending]) -> None:
        """Take what is queued, and what the loop's ready callbacks add in the next few turns.

        Not a timer: a turn of the loop runs only what is already ready (requests read and parsed,
        waiting to enqueue). Each batch costs a fixed ~2.5 ms of CPU (its statements, its commit)
        besides ~0.25 ms per event, so under load a batch of 40 instead of 15 is half the CPU
        per lead; when nothing else is ready the first turn finds the queue unchanged and we go.
        A backlog (what queued up while the last batch was written) goes at once: the writer is then what
        every caller waits for, and turns spent gathering more left it idle a third of the whole loop's run
        (bench/loop.py: busy 67-70% -> 96-97%, a post's answer 137-168 -> 96-118 ms).
        """
        backlog = not self._queue.empty()
        for _ in range(FILL_TURNS):
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            if len(batch) >= self._max_batch or backlog:
                return
            await asyncio.sleep(0)
            if self._queue.empty():
                return

    async def _commit(self, batch: list[_Pending]) -> None:
        live = [(r, f) for r, f in batch if not f.done()]   # a caller may have given up
        if not live:
            return
        events = [(r, f) for r, f in live if isinstance(r, IngestRequest)]
        routing = [(r, f) for r, f in live if isinstance(r, RoutingChanges)]
        jobs = [(r, f) for r, f in live if isinstance(r, Job)]
        try:
            committed = await self._write_committed([r for r, _ in events], [r for r, _ in routing],
                                                    [r for r, _ in jobs])
        except Exception as exc:
            if _store_down(exc):
                log.error("store unavailable for %d writes: %s", len(live), exc)
                for _, future in live:
                    _fail(future, StoreUnavailable(str(exc)))
                return
            # A unique-key race with another process, or one event the database refuses: one by
            # one, each re-reads what is stored and the event that truly fails is refused alone.
            for request, future in events:
                await self._commit_single(request, future)
            for changes, future in routing:
                await self._commit_routing_single(changes, future)
            for job, future in jobs:
                await self._commit_job_single(job, future)
            return
        # The next batch is written while this one's commit is synced; its callers hear of it after the sync.
        self._unsynced.add(committed.durable)
        committed.durable.add_done_callback(
            lambda durable: self._settle_batch(durable, committed.written, events, routing, jobs))

    def _settle_batch(self, durable: asyncio.Future[None], written: Written, events: list[_Pending],
                      routing: list[_Pending], jobs: list[_Pending]) -> None:
        self._unsynced.discard(durable)
        error = durable.exception()
        if error is not None:
            log.error("the commit of %d writes could not be synced: %s", len(events) + len(routing) + len(jobs), error)
            for _, future in (*events, *routing, *jobs):
                _fail(future, StoreUnavailable(str(error)))
            return
        results, cards, done = written
        for (_, future), result in zip(events, results, strict=True):
            if not future.done():
                future.set_result(result)
        for (_, future), found in zip(routing, cards, strict=True):
            if not future.done():
                future.set_result(found)
        for (_, future), value in zip(jobs, done, strict=True):
            _settle(future, value)

    async def _commit_single(self, request: IngestRequest, future: asyncio.Future[IngestResult]) -> None:
        last: Exception | None = None
        for _ in range(3):
            try:
                [result], _, _ = await self._write([request], [], [])
            except IntegrityError as exc:
                last = exc      # a clash with a concurrent writer: the next try reads its row
                continue
            except Exception as exc:
                if _store_down(exc):
                    last = StoreUnavailable(str(exc))
                else:
                    log.exception("ingest of %s/%s refused", request.channel, request.event_id)
                    last = EventRefused(f"the store refused this event: {type(exc).__name__}")
                break
            if not future.done():
                future.set_result(result)
            return
        if isinstance(last, IntegrityError):
            log.error("ingest of %s/%s refused after 3 tries: %s", request.channel, request.event_id, last)
            last = EventRefused("the store refused this event: IntegrityError")
        _fail(future, last if last is not None else StoreUnavailable("unknown failure"))

    async def _commit_routing_single(self, changes: RoutingChanges, future: asyncio.Future[Any]) -> None:
        try:
            _, [cards], _ = await self._write([], [changes], [])
        except Exception as exc:
            _fail(future, StoreUnavailable(str(exc)) if _store_down(exc) else exc)
            return
        if not future.done():
            future.set_result(cards)

    async def _commit_job_single(self, job: Job, future: asyncio.Future[Any]) -> None:
        try:
            _, _, [value] = await self._write([], [], [job])
        except Exception as exc:
            _fail(future, StoreUnavailable(str(exc)) if _store_down(exc) else exc)
            return
        _settle(future, value)

    async def _write(self, requests: list[IngestRequest], routing: list[RoutingChanges],
                     jobs: list[Job]) -> Written:
        """Written and durable (one part at a time: nothing to gain from going on before its sync)."""
        committed = await self._write_committed(requests, routing, jobs)
        await committed.durable
        return committed.written

    async def _write_committed(self, requests: list[IngestRequest], routing: list[RoutingChanges],
                               jobs: list[Job]) -> Committed:
        started = time.perf_counter()
        committed = await self._writer.write(requests, self._clock(), routing, jobs)
        self.write_seconds += time.perf_counter() - started
        self.batches += 1
        self.events += len(requests)
        if self.on_batch is not None and requests:
            self.on_batch(len(requests))
        return committed


def _store_down(exc: BaseException) -> bool:
    """The database (not this event) failed: unreachable, locked, its schema broken. The sender retries.

    An event's own fault is a value the database refuses (DataError, a constraint) or one the driver
    cannot even bind (an int past 64 bits, a bare DBAPI Error from asyncpg): that event alone is refused.
    """
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, _STORE_FAULTS)
    return isinstance(exc, OSError | TimeoutError)


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    """A job's value, or the error of an isolated job that failed alone."""
    if isinstance(value, JobFailed):
        error = value.error
        _fail(future, StoreUnavailable(str(error)) if _store_down(error) else error)
    elif not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Any], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
