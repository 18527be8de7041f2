"""Routing steps shared by the engine's calls: route a task, route a freed agent, follow-ups."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping

from routing.backends import Added, Closed, Pages, Pool, Released, RoutingBackend
from routing.events import Decision, Event, OfferCancelled, OfferCreated, RoutingOutcome, PresenceChanged, RoutingError
from routing.events import Candidate, TaskChanged
from routing.ordering import order_key
from routing.policies import agent_skip, choose, free_capacity, next_eligibility_change, next_round_at, owner_blocks
from routing.policies import policy_score
from routing.policies import queue_matchable_in_backend, round_due, stalled_by_declines
from routing.types import AgentState, Offer, Presence, QueueConfig, Skip, TaskRecord, TaskState

FIRST_PAGE = 4  # the head of a queue usually fits: read little first
PAGE = 32


def new_offer_id() -> str:
    """32 random hex digits, as uuid4().hex spelled them: without building a UUID (~5 us of every new task)."""
    return os.urandom(16).hex()


class Run:
    """Events and decisions collected during one engine call."""

    __slots__ = ("events", "decisions", "now")

    def __init__(self, now: float) -> None:
        self.events: list[Event] = []
        self.decisions: list[Decision] = []
        self.now = now

    def outcome(self) -> RoutingOutcome:
        return RoutingOutcome(tuple(self.events), tuple(self.decisions))


def sole_choice(rec: TaskRecord, queue: QueueConfig, state: AgentState, now: float) -> Decision | None:
    """`choose(rec, queue, [state], None, now, ordered=True)` for a task without owner when `state` is
    eligible: the usual record of a backend's match (the one agent it looked at), without choose's general
    loop, lists and sort; None when the agent is not eligible (then choose says why)."""
    if agent_skip(state, rec, queue, now, False) is not None:
        return None
    note = "ranked by index: stopped at the first eligible" if queue.broadcast <= 1 else ""
    return Decision(rec.id, rec.task.queue, queue.policy, now, (state.id,),
                    (Candidate(state.id, policy_score(state, rec, queue)),), (), note, rec.round)


class RoutingSteps:
    """The routing steps; `RoutingEngine` adds the public calls."""

    def __init__(self, backend: RoutingBackend, queues: Mapping[str, QueueConfig],
                 clock: Callable[[], float] = time.time, *, missed_offers_limit: int = 3) -> None:
        self.backend = backend
        self.queues = dict(queues)
        self.clock = clock
        self.missed_offers_limit = missed_offers_limit
        self._fairness = any(q.fairness for q in self.queues.values())
        self._all_matchable = all(queue_matchable_in_backend(q) for q in self.queues.values())

    def _now(self) -> float:
        # Milliseconds: Redis' cjson keeps 14 digits, so this round-trips exactly.
        return round(self.clock(), 3)

    def _queue(self, name: str) -> QueueConfig:
        try:
            return self.queues[name]
        except KeyError:
            raise RoutingError(f"unknown queue {name!r}") from None

    def _in_order(self, records: Iterable[TaskRecord], now: float) -> list[TaskRecord]:
        # Queue order, so priority and FIFO hold when several tasks come back at once.
        return sorted(records, key=lambda r: order_key(r, self._queue(r.task.queue), now))

    async def _after_close(self, closed: Closed, run: Run) -> None:
        run.events.append(OfferCancelled(closed.offer))
        if closed.on_break is not None:
            run.events.append(PresenceChanged(closed.on_break.id, closed.on_break.presence, closed.on_break.reason))
            run.events.extend(OfferCancelled(o) for o in closed.rescinded)
        for rec in self._in_order(closed.requeued, run.now):
            await self._route_task(rec, run)
        await self._route_agent(closed.offer.agent_id, run)

    async def _after_release(self, released: Released, run: Run) -> None:
        task_id, state, held_by = released.end()
        run.events.append(TaskChanged(task_id, state, held_by))
        known = {a.id: a for a in released.agents}
        read = (released.keys, released.pages) if released.pages is not None else None
        for agent_id in dict.fromkeys(released.freed):
            mine = agent_id == held_by
            await self._route_agent(agent_id, run, known.get(agent_id), read if mine else None,
                                    released.matched if mine else None)

    async def _route_owned(self, agent_id: str, run: Run) -> None:
        """Tasks waiting for this owner: the owner's change may let others take them now."""
        waiting = [r for r in await self.backend.owned(agent_id) if r.state is TaskState.PENDING]
        for rec in self._in_order(waiting, run.now):
            fresh = await self.backend.get_task(rec.id)
            if fresh is not None and fresh.state is TaskState.PENDING:
                await self._route_task(fresh, run)

    async def _schedule_agent(self, state: AgentState, now: float) -> None:
        """Wake routing for this agent when its hours open or close, or a fairness cap lifts."""
        hours = state.agent.hours
        times = [hours.next_change(now)] if hours is not None else []
        for name, queue in self.queues.items():
            fair = queue.fairness
            if fair:
                counted = [t for t in state.recent.get(name, ()) if t >= now - fair.period_seconds]
                if len(counted) >= fair.max_assignments:
                    times.append(round(counted[-fair.max_assignments] + fair.period_seconds + 0.001, 3))
        due = [t for t in times if t is not None]
        if due:
            await self.backend.schedule("a:" + state.id, min(due))

    async def _route_task(self, rec: TaskRecord, run: Run, fetched: Pool | None = None) -> list[Offer]:
        """Offer one pending task to the best free agents; retry if another process took them."""
        queue = self._queue(rec.task.queue)
        owner_ids = [rec.task.owner] if rec.task.owner else []
        for _ in range(4):
            pool = fetched or await self.backend.candidates(rec.task.channel, owner_ids, queue.policy)
            fetched = None
            owner = pool.named[0] if pool.named else None
            decision = choose(rec, queue, pool.free, owner, run.now, pool.ordered)
            if pool.partial and self._short(decision, rec, queue, owner, run.now):
                pool = await self.backend.candidates(rec.task.channel, owner_ids, None)
                decision = choose(rec, queue, pool.free, owner, run.now)
            run.decisions.append(decision)
            if not decision.chosen:
                due = round_due(rec, queue, run.now)
                if due and stalled_by_declines(decision):
                    # Only agents who declined or missed it are left: a new round asks them again, in policy
                    # order, once the queue's pause has passed (else the task would wait for a newcomer).
                    fresh = await self.backend.new_round(rec.id, rec.round)
                    if fresh is None:
                        return []
                    rec = fresh
                    continue
                if rec.declined and not due:
                    # Looked at again when the pause ends, whether or not one who declined is free now: one
                    # back from a break before then finds the round not due yet (`_best_task`) and moves on.
                    await self.backend.schedule("t:" + rec.id, next_round_at(rec, queue))
                change = next_eligibility_change(rec, queue, run.now)
                if change is not None:
                    await self.backend.schedule("t:" + rec.id, change)
                return []
            offers = [Offer(new_offer_id(), rec.id, agent_id, rec.task.channel, rec.task.queue, run.now,
                            run.now + queue.offer_timeout) for agent_id in decision.chosen]
            made = await self.backend.reserve(rec.id, offers, max(1, queue.broadcast))
            if made:
                run.events.extend(OfferCreated(o) for o in made)
                return made
            fresh = await self.backend.get_task(rec.id)
            if fresh is None or fresh.state is not TaskState.PENDING:
                return []
            rec = fresh
        return []

    def _record_match(self, added: Added, run: Run) -> None:
        """The backend matched a new task itself: the same decision, made again here over the agents it
        looked at, goes on the record with the offers it made."""
        rec = added.record
        queue = self._queue(rec.task.queue)
        free = added.pool.free
        decision = (sole_choice(rec, queue, free[0], run.now) if len(free) == 1 and rec.task.owner is None
                    else None) or choose(rec, queue, free, None, run.now, ordered=True)
        run.decisions.append(decision)
        run.events.extend(OfferCreated(o) for o in added.offered or ())

    @staticmethod
    def _short(decision: Decision, rec: TaskRecord, queue: QueueConfig, owner: AgentState | None,
               now: float) -> bool:
        """Whether a decision over the head of a ranked order found fewer agents than it wants."""
        if owner_blocks(rec, queue, owner, now):
            return False
        others = sum(1 for c in decision.candidates if c.agent_id != rec.task.owner)
        return others < max(1, queue.broadcast)

    async def _route_agent(self, agent_id: str, run: Run, state: AgentState | None = None,
                           read: tuple[tuple[tuple[str, str], ...], Pages] | None = None,
                           matched: Added | None = None) -> None:
        """Give a free agent the best waiting tasks it may take, until it is full or nothing fits.

        `read`: the first `pending` read for `state`, done already by the backend (keys, pages);
        `matched`: that first step decided and offered by the backend itself (`state` is from before it)."""
        tried: set[str] = set()
        if matched is not None:
            self._record_match(matched, run)
            tried.add(matched.record.id)
            made = [o for o in matched.offered or () if o.agent_id == agent_id]
            state = self._loaded(state, made[0]) if made and state is not None else None
            read = None
        for _ in range(64):
            if state is None:
                state = (await self.backend.get_agents([agent_id]))[0]
            if state is None or state.presence is not Presence.AVAILABLE:
                return
            if state.agent.hours is not None and not state.agent.hours.is_open(run.now):
                return
            best, pool = await self._best_task(state, tried, run.now, read)
            read = None
            if best is None:
                return
            tried.add(best.id)
            made = [o for o in await self._route_task(best, run, pool) if o.agent_id == agent_id]
            state = self._loaded(state, made[0]) if made else None

    @staticmethod
    def _loaded(state: AgentState, made: Offer) -> AgentState:
        # Our own offer: we know the new load, no need to read it back (a stale view only costs a retry).
        # Built field by field: dataclasses.replace reads every field by name, twice this call's time.
        s = state
        return AgentState(s.agent, s.presence, s.reason, {**s.load, made.channel: s.load.get(made.channel, 0) + 1},
                          s.wrapping, s.missed, s.last_busy, s.rr, s.recent)

    async def _best_task(self, state: AgentState, tried: set[str], now: float,
                         first: tuple[tuple[tuple[str, str], ...], Pages] | None = None
                         ) -> tuple[TaskRecord | None, Pool | None]:
        """The waiting task the agent should get next, and the free agents if the backend read them along.

        `first`: the first page read already (its keys and pages), else it is read here."""
        channels = [ch for ch in state.agent.capacity if free_capacity(state, ch) > 0]
        if not channels:        # full (an agent after its own offer, usually): nothing to read
            return None, None
        names: Iterable[str] = state.agent.queues or self.queues.keys()
        keys = [(name, ch) for name in names if name in self.queues for ch in channels]
        if first is not None and set(first[0]) == set(keys):
            keys = list(first[0])
        else:
            first = None
        best: TaskRecord | None = None
        best_key: tuple[float, float, int] | None = None
        offset, limit = 0, FIRST_PAGE
        free = None
        owner_states: dict[str, AgentState | None] = {state.id: state}
        while keys:
            read = first[1] if first is not None else await self.backend.pending(keys, offset, limit)
            first = None
            pages, free = read.pages, free if read.free is None else read.free
            owners = {r.task.owner for page in pages for r in page if r.task.owner and r.task.owner not in owner_states}
            if owners:
                owner_states.update(zip(owners, await self.backend.get_agents(list(owners))))
            more = []
            for key, page in zip(keys, pages):
                queue = self.queues[key[0]]
                found = None
                for rec in page:
                    if rec.id in tried:
                        continue
                    blocks = owner_blocks(rec, queue, owner_states.get(rec.task.owner or ""), now)
                    skip = agent_skip(state, rec, queue, now, blocks)
                    # A task this agent declined, due a new round: routing it starts that round if no one
                    # else takes it (the agent may have been busy when the pause ended).
                    if skip is None or (skip[0] is Skip.DECLINED and round_due(rec, queue, now)):
                        found = rec
                        break
                if found is not None:
                    key_of = order_key(found, queue, now)
                    if best_key is None or key_of < best_key:
                        best, best_key = found, key_of
                elif len(page) == limit:
                    more.append((key, order_key(page[-1], queue, now)))
            # Order within a queue never changes, so a deeper page can only win if its head could.
            keys = [key for key, last in more if best_key is None or last < best_key]
            offset, limit = offset + limit, PAGE
        if best is None or free is None or best.task.channel not in free:
            return best, None
        named = [owner_states.get(best.task.owner)] if best.task.owner else []
        return best, Pool(free[best.task.channel], named)
