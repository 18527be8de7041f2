"""Reminders at due time: a heap of the next due tasks (never one timer per task), claimed in the database.

The heap holds at most `batch` entries read from the database in due order; when it runs dry it is
refilled from where it stopped. Due times live in the database, so a restart rebuilds the heap.
Every process may hold the same task: the claim (`crm_store.tasks.claim_due`, a conditional
UPDATE … RETURNING) lets exactly one of them deliver it. Tasks made or moved by another process are picked up
within `recheck_seconds` (the heap is reloaded); those made here are pushed at once (`changed`).
"""
from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from crm_store import tasks
from crm_store.session import Sessions

log = logging.getLogger(__name__)



class Deliver(Protocol):
    """Reminders claimed together are delivered together: frames fanned out and audited in bulk, never a round
    trip per task (a burst of 100,000 due tasks must not queue behind 100,000 commits)."""

    async def present(self, user_ids: set[int]) -> set[int]:
        """Which of these people have a screen open: their reminders are audited as shown in the console."""

    async def __call__(self, reminders: list[tasks.Reminder], present: set[int]) -> None:
        """Frames to every assignee's screens; the others reached (and audited) through their chosen channel."""

CLAIM_CHUNK = 500       # ids per claiming UPDATE: well under SQLite's bound-parameter limit
Entry = tuple[datetime, int]


class ReminderTimer:
    def __init__(self, sessions: Sessions, clock: Callable[[], datetime], deliver: Deliver, *,
                 batch: int = 1000, recheck_seconds: float = 5.0, coalesce_seconds: float = 0.05) -> None:
        self._sessions = sessions
        self._clock = clock
        self._deliver = deliver
        self._batch = batch
        self._recheck = recheck_seconds
        # After a round that delivered, the next waits this long at least: in a burst each round then claims
        # hundreds at once instead of a few, and the fixed cost of a round (a commit) stops bounding the rate.
        self._coalesce = coalesce_seconds
        self._heap: list[Entry] = []
        self._horizon: Entry | None = None     # the last entry loaded when more may follow; None: all loaded
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self.delivered = 0

    # -- the heap -------------------------------------------------------------------------------
    async def load(self) -> None:
        """(Re)build the heap from the database: the next `batch` due tasks not yet reminded."""
        async with self._sessions() as session:
            rows = await tasks.next_due(session, self._batch)
        self._heap = [(due, task_id) for task_id, due in rows]
        heapq.heapify(self._heap)
        self._horizon = (rows[-1][1], rows[-1][0]) if len(rows) == self._batch else None

    async def _refill(self) -> None:
        async with self._sessions() as session:
            rows = await tasks.next_due(session, self._batch, after=self._horizon)
        for task_id, due in rows:
            heapq.heappush(self._heap, (due, task_id))
        self._horizon = (rows[-1][1], rows[-1][0]) if len(rows) == self._batch else None

    def changed(self, task_id: int, due_at: datetime) -> None:
        """A task made or moved in this process: in the heap if it falls before what the heap already covers."""
        entry = (due_at, task_id)
        if self._horizon is None or entry <= self._horizon:
            heapq.heappush(self._heap, entry)
            self._wake.set()

    def __len__(self) -> int:
        return len(self._heap)

    # -- firing ---------------------------------------------------------------------------------
    async def fire_due(self) -> int:
        """Claim and deliver every reminder due by now; how many this process delivered."""
        now = self._clock()
        due: list[int] = []
        while True:
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap)[1])
            if self._heap or self._horizon is None:
                break
            await self._refill()
        delivered = 0
        for at in range(0, len(due), CLAIM_CHUNK):
            chunk = set(due[at:at + CLAIM_CHUNK])
            # Who has a screen open is asked first (through Redis when processes share screens): asked inside
            # the claim's transaction it held the database's write lock across those round trips.
            async with self._sessions() as session:
                asked = await tasks.assignees_of(session, chunk)
            present = await self._deliver.present(asked)
            # One commit per chunk: the claim and, for assignees with a screen open (nearly all, at work), the
            # audit entry saying the console showed it; the frames go out once that is committed.
            async with self._sessions() as session, session.begin():
                reminders = await tasks.claim_due(session, chunk, now)
                await tasks.audit_reminded(session, [r.task_id for r in reminders if r.assignee_id in present],
                                           "console", None, now)
            if not reminders:
                continue
            # Reassigned between the read and the claim (rare): that assignee is asked now, audited on its own.
            late = {r.assignee_id for r in reminders if r.assignee_id is not None and r.assignee_id not in asked}
            if late and (also := await self._deliver.present(late)):
                present |= also
                async with self._sessions() as session, session.begin():
                    await tasks.audit_reminded(session, [r.task_id for r in reminders if r.assignee_id in also],
                                               "console", None, now)
            try:
                await self._deliver(reminders, present)
            except Exception:
                log.exception("reminders of tasks %s could not be delivered", [r.task_id for r in reminders])
            delivered += len(reminders)
        self.delivered += delivered
        return delivered

    def seconds_to_next(self) -> float:
        if not self._heap:
            return self._recheck
        return max(0.0, min(self._recheck, (self._heap[0][0] - self._clock()).total_seconds()))

    # -- running ---------------------------------------------------------------------------------
    async def __aenter__(self) -> ReminderTimer:
        await self.load()
        self._runner = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _run(self) -> None:
        since_load, fired = 0.0, 0
        while True:
            wait = self.seconds_to_next()
            if fired:
                wait = max(wait, self._coalesce)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                since_load += wait
            try:
                if since_load >= self._recheck:
                    since_load = 0.0
                    await self.load()       # what other processes made or moved meanwhile
                fired = await self.fire_due()
            except Exception:
                fired = 0
                log.exception("reminder timer step failed")
