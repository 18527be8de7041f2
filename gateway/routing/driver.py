"""The routing engine driven: one call at a time, a timer at the next deadline, every outcome carried out.

The engine decides; the driver feeds it the events it routes on (a new contact, a presence change, an
accept or decline, a closed lead, the timer) and hands each outcome to the recorder and the listeners.
There is no polling loop.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any


from channels.types import InboundContact
from crm_store import routing_log
from crm_store.models import RoutingTask, User
from crm_store.task_refs import is_phone_task
from crm_store.types import IngestResult
from crm_store.session import Sessions
from gateway.mapping import agent_of, task_for, task_of_row
from gateway.notifier import Notifier
from gateway.routing.outcomes import OutcomeRecorder, RoutingStore, at
from gateway.work_settings import RoutingSettings
from routing.backends import Snapshot
from routing.engine import RoutingEngine
from routing.events import RoutingError, RoutingOutcome
from routing.types import AgentState, Offer, Presence, QueueConfig, Task

log = logging.getLogger(__name__)

# Waiting tasks read back per statement when a process starts: well under any engine's bound on parameters.
RESTORE_CHUNK = 500

EngineCall = Coroutine[Any, Any, RoutingOutcome]
OutcomeListener = Callable[[RoutingOutcome], None]


class RoutingDriver:
    """Implements `gateway.routing.ports.Routing` over one `RoutingEngine`."""

    def __init__(self, engine: RoutingEngine, sessions: Sessions, store: RoutingStore, notifier: Notifier,
                 settings: RoutingSettings, clock: Callable[[], float],
                 *, shared_deadline_check: float | None = None) -> None:
        self.engine = engine
        self._sessions = sessions
        self._notifier = notifier
        self._settings = settings
        self._clock = clock
        self._lock = asyncio.Lock()          # one engine call at a time in this process
        self._timer: asyncio.TimerHandle | None = None
        self._shared_deadline_check = shared_deadline_check
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recorder = OutcomeRecorder(store, notifier, self._agent_state, self._take_phone_offer, clock)
        self.outcome_listeners: list[OutcomeListener] = []     # e.g. the wallboard's debounce
        self.on_decision: Callable[[RoutingOutcome, float], None] = lambda outcome, seconds: None   # metrics

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, users: list[User]) -> None:
        """Register agents and re-queue work that was waiting when the service stopped."""
        for user in users:
            await self.run(self.engine.upsert_agent(agent_of(user, self._settings)))
        async with self._sessions() as session:
            waiting = await routing_log.waiting_task_ids(session)
        # Rows read just before they are restored, a chunk at a time: one read per task kept a process on a
        # database with 28,000 waiting tasks busy for ~25 s after it started (bench/README.md, Big database).
        for first in range(0, len(waiting), RESTORE_CHUNK):
            chunk = waiting[first:first + RESTORE_CHUNK]
            async with self._sessions() as session:
                current = await routing_log.task_rows(session, chunk)
            for task_id in chunk:
                await self._restore_at_start(current.get(task_id))
        await self._reschedule()

    async def _restore_at_start(self, fresh: RoutingTask | None) -> None:
        if fresh is None or fresh.state not in routing_log.WAITING_TASK_STATES:
            return     # another process routed and finished it while we were starting
        try:
            await self.restore(fresh)
        except RoutingError:
            return     # a shared (Redis) backend still holds it (or just finished it): nothing was lost
        # In one process this is every restart; with a shared backend, routing had lost the task.
        log.log(logging.WARNING if self._shared_deadline_check is not None else logging.INFO,
                "routing repaired: requeue %s database says %s, restored at start", fresh.id, fresh.state)

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- inputs ---------------------------------------------------------------------------------
    async def on_contact(self, contact: InboundContact, result: IngestResult) -> None:
        """A committed inbound event: offer its task, or tell the manager already working the lead."""
        await self.on_contacts([(contact, result)])

    async def on_contacts(self, committed: Sequence[tuple[InboundContact, IngestResult]]) -> None:
        """`on_contact` of the events of one group commit: their tasks in one engine call (one turn of the
        driver, one outcome recorded, one timer), not one each."""
        leads = {result.task_id: result.lead_id for _, result in committed if result.task_id is not None}
        tasks = [task_for(result, self._settings, self._clock()) for _, result in committed
                 if result.task_id is not None]
        if tasks:
            exists: list[str] = []
            await self.run(self.engine.add_tasks(tasks, exists))
            for task_id in exists:
                # A process starting (or the sweeper) read the committed row and routed it first: nothing
                # is lost or doubled (this was logged as a failed listener, with a traceback, on restarts).
                log.info("task %s of lead %s was routed already (restored from the database)", task_id,
                         leads[task_id])
        for contact, result in committed:
            if result.task_id is None and result.assignee_id is not None:
                try:
                    await self._notifier.message_received(result.assignee_id, result.lead_id,
                                                          result.interaction_id, contact)
                except Exception:
                    log.exception("telling user %s of lead %s failed", result.assignee_id, result.lead_id)

    async def restore(self, row: RoutingTask) -> RoutingOutcome:
        """Re-add a task read from the database; RoutingError if routing holds it or finished it lately
        (the row may have been read just before another process's accept and close were stored)."""
        return await self.run(self.engine.add_task(task_of_row(row), restored=True))

    async def add_task(self, task: Task) -> RoutingOutcome:
        """Route a task whose row is already committed (a callback, a call in progress)."""
        return await self.run(self.engine.add_task(task))

    async def end_task(self, task_id: str) -> None:
        """Complete an assigned task, cancel a waiting one; a task routing no longer holds is just closed."""
        record = await self.engine.get_task(task_id)
        try:
            if record is not None and record.state.value in ("assigned", "wrapping"):
                await self.run(self.engine.complete(task_id))
            elif record is not None:
                await self.run(self.engine.cancel(task_id))
                return
        except RoutingError as exc:
            log.info("task %s already gone from routing: %s", task_id, exc)
        if record is None and not is_phone_task(task_id):
            async with self._sessions() as session, session.begin():
                await routing_log.set_task_state(session, task_id, "canceled", at(self._clock()))

    async def take(self, task_id: str, user_id: int) -> RoutingOutcome:
        """Someone takes a waiting task from the unassigned list: atomic like an accept (RoutingError if late)."""
        return await self.run(self.engine.take(task_id, str(user_id)))

    async def set_priority(self, task_id: str, priority: int) -> RoutingOutcome:
        """A lead's priority changed: its waiting task moves to its new place in line."""
        return await self.run(self.engine.set_priority(task_id, priority))

    async def set_presence(self, user_id: int, presence: Presence, reason: str | None,
                           source: str = "routing") -> None:
        """A presence change that did not come from the operator's screen (the PBX, an admin)."""
        await self.run(self.engine.set_presence(str(user_id), presence, reason), source)

    async def tell_presence(self, state: AgentState) -> None:
        """Send the agent's screens their presence as routing holds it (nothing changes)."""
        await self._notifier.presence_changed(state)

    async def sync_user(self, user: User) -> None:
        """An admin changed a user: routing follows (inactive users go offline)."""
        await self.run(self.engine.upsert_agent(agent_of(user, self._settings)))
        if not user.active:
            await self.run(self.engine.set_presence(str(user.id), Presence.OFFLINE, "deactivated"), "admin")

    async def lead_finished(self, lead_id: int) -> None:
        """The lead was closed, deleted or assigned by hand: its task is over."""
        async with self._sessions() as session:
            row = await routing_log.open_task_for_lead(session, lead_id)
        if row is not None:
            await self.task_finished(row.id, row.state)

    async def task_finished(self, task_id: str, state: str) -> None:
        """The open task `task_id` (stored as `state`) of a lead just closed or assigned by hand is over."""
        held = state in ("assigned", "wrapping")
        try:
            await self.run(self.engine.complete(task_id) if held else self.engine.cancel(task_id))
        except RoutingError as exc:
            log.info("task %s already gone from routing: %s", task_id, exc)
        except Exception as exc:     # routing unreachable (Redis down): the change stands, the sweeper follows up
            log.warning("task %s ended while routing is unreachable (%r): routing lets it go when back", task_id, exc)
        else:
            return
        async with self._sessions() as session, session.begin():
            await routing_log.set_task_state(session, task_id, "completed" if held else "canceled", at(self._clock()))

    # -- reading ----------------------------------------------------------------------------------
    async def agent(self, user_id: int) -> AgentState | None:
        return await self._agent_state(str(user_id))

    @property
    def queues(self) -> Mapping[str, QueueConfig]:
        return self.engine.queues

    async def snapshot(self) -> Snapshot:
        return await self.engine.snapshot()

    async def _agent_state(self, agent_id: str) -> AgentState | None:
        [state] = await self.engine.backend.get_agents([agent_id])
        return state

    # -- carrying out decisions -----------------------------------------------------------------
    async def run(self, call: EngineCall, source: str = "routing") -> RoutingOutcome:
        """Run one engine call under the lock, then carry its outcome out and re-arm the timer.

        `source` names who asked (console, pbx, admin, routing) on the agents' activity timeline."""
        try:
            await self._lock.acquire()
        except BaseException:
            # Cancelled while waiting for the turn (a shutdown cancels the background steps): the call was
            # made but never run; closed here, not left to warn "coroutine ... was never awaited" at exit.
            call.close()
            raise
        try:
            started = time.perf_counter()
            outcome = await call
            self.on_decision(outcome, time.perf_counter() - started)
            # Prepared under the lock and queued right after it (no await between): outcomes are
            # written in the order routing made them, several to a group commit.
            prepared = await self._recorder.prepare(outcome, source)
        finally:
            self._lock.release()
        for listener in self.outcome_listeners:
            listener(outcome)       # even a task nobody can take yet moves the wallboard
        if prepared is not None:
            await self._recorder.commit(prepared)
        await self._reschedule()
        return outcome

    async def rearm(self) -> None:
        """Arm the deadline timer again (after an outage broke the chain of expiries)."""
        await self._reschedule()

    def _take_phone_offer(self, offer: Offer) -> None:
        self.spawn(lambda: self.run(self.engine.accept(offer.id, offer.agent_id)))

    async def _reschedule(self) -> None:
        deadline = await self.engine.next_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is None and self._shared_deadline_check is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - self._clock()) if deadline is not None else float("inf")
        if self._shared_deadline_check is not None:
            # Another process may create an earlier deadline, or die before its own fires.
            delay = min(delay, self._shared_deadline_check)
        self._timer = loop.call_later(delay, self.spawn, self._expire)

    async def _expire(self) -> None:
        await self.run(self.engine.expire_due())

    def spawn(self, step: Callable[[], Any]) -> None:
        """Run `step` in the background, logged on failure and cancelled on stop."""
        task = asyncio.create_task(_logged(step))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _logged(step: Callable[[], Any]) -> None:
    try:
        await step()
    except Exception:
        log.exception("routing background step failed")
