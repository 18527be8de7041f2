"""Routing kept in step with the database, on every process, all the time.

The database is the outbox: a lead's routing task is committed with the lead, and routing is told
afterwards. Whatever fails in between (Redis down, a process killed, a lost reply) leaves the two
disagreeing; each pass compares them and repairs the side that is behind, logging what it repaired:

- a waiting task routing does not hold is (re)added, so every committed lead is offered eventually;
- a task routing assigned while the database still shows the offer: the database records the accept;
- a task whose lead was closed, or that the database finished, is let go by routing (capacity back);
- an assigned task routing lost (Redis restarted empty) is closed; the lead stays with its assignee;
- agents with a screen here that routing lost are registered again, with the presence last set.

Routing and the database change one after the other, so a pass may see a step half done. Only a
difference seen by two passes in a row is repaired (re-adding and letting go are idempotent anyway).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from crm_store import routing_log
from crm_store import users as user_store
from crm_store.session import Sessions
from crm_store.task_refs import is_phone_task
from gateway.routing.driver import RoutingDriver
from gateway.routing.outcomes import at
from routing.events import OfferCreated, RoutingError
from routing.types import AgentState, Presence, TaskRecord, TaskState

log = logging.getLogger(__name__)

HELD = (TaskState.ASSIGNED, TaskState.WRAPPING)
REPAIRS_AT_ONCE = 8
# The share of the time a pass's reading and comparing may take: a pass costs ~7 us a waiting task on the loop
# thread (20,000 waiting form leads: ~140 ms every 2 s, a stall the pops and the intake felt), so a big backlog
# stretches the interval instead. Repairs are not counted: after an outage they are the point of the pass.
DUTY = 0.05


@dataclass(frozen=True, slots=True)
class Repair:
    """One difference between routing and the database, and what a pass does about it."""

    kind: str
    task_id: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.task_id} {self.detail}".rstrip()


class RoutingSweeper:
    """Compares routing's live state with the database every `interval` seconds and repairs either."""

    def __init__(self, driver: RoutingDriver, sessions: Sessions, clock: Callable[[], float],
                 connected: Callable[[int], bool], *, interval: float = 2.0,
                 timer: Callable[[], float] = time.perf_counter) -> None:
        self._driver = driver
        self._timer = timer
        self.next_wait = interval     # until the next pass: `interval`, or longer after a long comparison
        self._sessions = sessions
        self._clock = clock
        self._connected = connected
        self._interval = interval
        self._presence: dict[int, tuple[Presence, str | None]] = {}
        self._told: dict[int, tuple[Presence, str | None]] = {}     # presence a pass last re-sent to a screen
        self._suspects: set[Repair] = set()
        self._stopped = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    async def remember_presence(self, user_id: int, presence: Presence, reason: str | None) -> None:
        """A presence set on a screen of this process: restored if routing loses the agent."""
        self._presence[user_id] = (presence, reason)
        self._told.pop(user_id, None)

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopped.set()
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def _run(self) -> None:
        failing = False
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.next_wait)
            if self._stopped.is_set():
                return
            try:
                await self.sweep()
                if failing:
                    log.warning("routing reconciliation works again")
                failing = False
            except Exception as exc:   # Redis or the database down: the next pass tries again
                if not failing:
                    log.warning("routing reconciliation failed, will retry: %r", exc)
                failing = True

    async def sweep(self) -> list[Repair]:
        """One pass: returns the repairs made (each also logged)."""
        started = self._timer()
        async with self._sessions() as session:
            # Ids only: a big team's thousands of users loaded as objects every pass stalled the loop (and the pops)
            user_ids = await user_store.active_user_ids(session)
            stored = await routing_log.unfinished_tasks(session)
        snapshot = await self._driver.snapshot()
        made = await self._register_agents(user_ids, {a.id: a for a in snapshot.agents})
        live = {t.id: t for t in snapshot.tasks if not is_phone_task(t.id)}
        found = [self._compare(s, live.get(s.id)) for s in stored]
        stored_ids = {s.id for s in stored}     # once: per task it made each pass quadratic in the backlog
        strays = [t for t in live.values() if t.id not in stored_ids]
        if strays:
            async with self._sessions() as session:
                states = await routing_log.task_states(session, [t.id for t in strays])
            found += [Repair("let_go", t.id, f"database says {states.get(t.id, 'unknown')}") for t in strays]
        current = {r for r in found if r is not None}
        confirmed, self._suspects = current & self._suspects, current
        self.next_wait = max(self._interval, (self._timer() - started) / DUTY)
        await self._driver.rearm()      # a timer chain broken by an outage starts again
        # Side by side: after an outage there may be hundreds, and each waits on the database and Redis.
        # One failing repair must not hold up the others; it is seen again by the next passes.
        limit = asyncio.Semaphore(REPAIRS_AT_ONCE)

        async def repair_one(repair: Repair) -> Repair | None:
            async with limit:
                try:
                    await self._repair(repair, live.get(repair.task_id))
                except RoutingError as exc:
                    log.info("routing repair %s overtaken: %s", repair, exc)
                    return None
                except Exception as exc:
                    log.warning("routing repair %s failed, will retry: %r", repair, exc)
                    return None
            log.warning("routing repaired: %s", repair)
            return repair

        done = await asyncio.gather(*(repair_one(r) for r in sorted(confirmed, key=str)))
        made.extend(r for r in done if r is not None)
        return made

    async def _register_agents(self, user_ids: list[int], known: Mapping[str, AgentState]) -> list[Repair]:
        """Agents routing lost are registered again; a screen here gets back the presence it set.

        A registered agent nobody has set a presence for is offline without a reason: after Redis
        restarted empty, that is every agent, whichever process registered it again.
        """
        made = []
        for user_id in user_ids:
            state = known.get(str(user_id))
            if state is None and not self._connected(user_id):
                continue     # like a user added while we run, known to routing from their next connect
            if state is None:
                async with self._sessions() as session:
                    user = await user_store.find_user(session, user_id)
                if user is None or not user.active:
                    continue
                await self._driver.sync_user(user)
                made.append(Repair("agent_registered", str(user_id)))
            remembered = self._presence.get(user_id)
            fresh = state is None or (state.presence is Presence.OFFLINE and state.reason is None)
            if (fresh and remembered is not None and remembered[0] is not Presence.OFFLINE
                    and self._connected(user_id)):
                await self._driver.set_presence(user_id, *remembered)
                made.append(Repair("presence_restored", str(user_id), remembered[0].value))
            elif state is not None and remembered is not None and self._connected(user_id):
                # Routing changed the presence (a break for missed offers): if that frame was lost (a
                # failed commit, a fan-out gap), the screen would wait for offers that never come.
                # Said again once per change; a screen that had it shows the same.
                now = (state.presence, state.reason)
                if now != remembered and self._told.get(user_id) != now:
                    self._told[user_id] = now
                    await self._driver.tell_presence(state)
        for repair in made:
            log.warning("routing repaired: %s", repair)
        return made

    @staticmethod
    def _compare(stored: routing_log.StoredTask, live: TaskRecord | None) -> Repair | None:
        if not stored.lead_open:
            return Repair("let_go", stored.id, "lead closed")
        if live is None:
            kind = "requeue" if stored.state in routing_log.WAITING_TASK_STATES else "drop_assignment"
            return Repair(kind, stored.id, f"database says {stored.state}, routing lost it")
        if live.state in HELD and stored.state in routing_log.WAITING_TASK_STATES:
            return Repair("adopt_accept", stored.id, f"routing assigned it to {live.agent_id}")
        return None

    async def _repair(self, repair: Repair, live: TaskRecord | None) -> None:
        driver, now = self._driver, at(self._clock())
        if repair.kind == "requeue":
            async with self._sessions() as session:
                row = await routing_log.task_row(session, repair.task_id)
            if row is not None and row.state in routing_log.WAITING_TASK_STATES:
                outcome = await driver.restore(row)   # only one process's add goes through
                made = {e.offer.id for e in outcome.events if isinstance(e, OfferCreated)}
                async with self._sessions() as session, session.begin():
                    # Offers stored before routing lost the task died with routing's copy.
                    await routing_log.end_stale_offers(session, row.id, made, now)
        elif repair.kind == "let_go":
            if live is not None:
                await driver.run(driver.engine.complete(live.id) if live.state in HELD
                                 else driver.engine.cancel(live.id))
            else:
                async with self._sessions() as session, session.begin():
                    await routing_log.set_task_state(session, repair.task_id, "canceled", now)
        elif repair.kind == "drop_assignment":
            async with self._sessions() as session, session.begin():
                await routing_log.set_task_state(session, repair.task_id, "completed", now)
        elif repair.kind == "adopt_accept" and live is not None and live.agent_id is not None:
            async with self._sessions() as session, session.begin():
                await routing_log.adopt_assignment(session, repair.task_id, int(live.agent_id), now)
