"""In-process routing backend: the RoutingBackend steps over MemoryState's dicts and indexes."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from routing.backends import Added, Closed, NextOffer, Pages, Pool, Released, Snapshot, TaskParams, day_of
from routing.backends.memory_state import OPEN, MemoryState, bump_load
from routing.events import InvalidState, NotFound, NotYourOffer, OfferNotPending
from routing.policies import free_capacity
from routing.types import (
    MISSED_OFFERS,
    VOICE,
    Agent,
    AgentState,
    Offer,
    OfferStatus,
    Policy,
    Presence,
    Task,
    TaskRecord,
    TaskState,
)


class MemoryBackend(MemoryState):
    """Routing state for one process; every method is atomic because nothing awaits inside."""

    async def upsert_agent(self, agent: Agent, now: float) -> AgentState:
        """Create or reconfigure an agent, keeping its presence and load."""
        old = self._agents.get(agent.id)
        if old is None:
            return self._put_agent(AgentState(agent, last_busy=now))
        return self._put_agent(replace(old, agent=agent), tuple(old.agent.capacity))

    async def set_presence(self, agent_id: str, presence: Presence, reason: str | None,
                           now: float) -> tuple[AgentState, tuple[Offer, ...], tuple[TaskRecord, ...]]:
        """Set presence; leaving `available` rescinds pending offers."""
        state = self._agents.get(agent_id)
        if state is None:
            raise NotFound(f"no agent {agent_id!r}")
        if presence is Presence.AVAILABLE:
            back = state.presence is not Presence.AVAILABLE
            state = replace(state, presence=presence, reason=reason, missed=0,
                            last_busy=now if back else state.last_busy)
            return self._put_agent(state), (), ()
        self._put_agent(replace(state, presence=presence, reason=reason))
        ended, requeued = self._rescind_agent(agent_id, now)
        return self._agents[agent_id], ended, requeued

    async def candidates(self, channel: str, ids: Sequence[str], policy: Policy | None) -> Pool:
        """Available agents with free capacity on `channel`, in policy order when indexed, and the named."""
        agents = self._agents
        named = [agents.get(i) for i in ids]
        ranked = (self._ranks.ids(channel, policy, (agents[i] for i in self._free.get(channel, ())))
                  if policy is not None else None)
        if ranked is not None:
            return Pool((agents[key[-1]] for key in ranked), named, ordered=True)
        return Pool([agents[i] for i in self._free.get(channel, ())], named)

    async def get_agents(self, ids: Sequence[str]) -> list[AgentState | None]:
        """Agents by id."""
        return [self._agents.get(i) for i in ids]

    # -- tasks -----------------------------------------------------------------------------
    async def add_task(self, task: Task, score: float, params: TaskParams, now: float,
                       policy: Policy, *, restored: bool = False, offer: Offer | None = None) -> Added | None:
        """Queue a new task, with the candidates for it; None if the id is known already (or, `restored`
        from the database, finished within the last hour). In one process the engine matches: `offer` unused."""
        if task.id in self._tasks or (restored and task.id in self._done):
            return None
        self._seq += 1
        rec = TaskRecord(task, seq=self._seq, score=score)
        self._tasks[task.id] = rec
        self._params[task.id] = params
        self._index.add(rec)
        if task.owner:
            self._owned.setdefault(task.owner, {})[task.id] = None
        self._bump(now, task, "entered")
        return Added(rec, await self.candidates(task.channel, [task.owner] if task.owner else [], policy))

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """A live task by id."""
        return self._tasks.get(task_id)

    async def pending(self, keys: Sequence[tuple[str, str]], offset: int, limit: int) -> Pages:
        """Pending tasks of each (queue, channel) in queue order."""
        tasks = self._tasks
        return Pages([[tasks[i] for i in self._index.page(key, offset, limit)] for key in keys])

    async def reserve(self, task_id: str, offers: Sequence[Offer], max_pending: int) -> list[Offer]:
        """Make each offer whose agent is available with free capacity, while the task is open."""
        made: list[Offer] = []
        for offer in offers:
            rec = self._tasks.get(task_id)
            if rec is None or rec.state not in OPEN or rec.offers >= max_pending:
                break
            state = self._agents.get(offer.agent_id)
            if (state is None or state.presence is not Presence.AVAILABLE
                    or free_capacity(state, offer.channel) <= 0 or offer.agent_id in rec.declined):
                continue
            if rec.state is TaskState.PENDING:
                self._index.remove(rec)
            self._tasks[task_id] = replace(rec, state=TaskState.RESERVED, offers=rec.offers + 1)
            self._seq += 1
            self._put_agent(replace(state, load=bump_load(state, offer.channel, 1), rr=self._seq))
            self._offers[offer.id] = offer
            self._agent_offers.setdefault(offer.agent_id, {})[offer.id] = None
            self._task_offers.setdefault(task_id, {})[offer.id] = None
            self._deadlines.set("o:" + offer.id, offer.expires)
            made.append(offer)
        return made

    async def accept(self, offer_id: str, agent_id: str, now: float) -> tuple[TaskRecord, Offer, tuple[Offer, ...]]:
        """Accept a pending offer; the task's other offers are rescinded."""
        offer = self._offers.get(offer_id)
        if offer is None:
            raise OfferNotPending(f"offer {offer_id!r} is not pending (unknown, or already ended)")
        if offer.agent_id != agent_id:
            raise NotYourOffer(f"offer {offer_id!r} is not for agent {agent_id!r}")
        accepted = self._end_offer(offer, OfferStatus.ACCEPTED, now)
        rescinded = tuple(self._end_offer(self._offers[o], OfferStatus.RESCINDED, now)
                          for o in list(self._task_offers.get(offer.task_id, {})))
        rec = self._tasks[offer.task_id]
        rec = replace(rec, state=TaskState.ASSIGNED, agent_id=agent_id, offers=0, assigned_at=now)
        self._tasks[rec.id] = rec
        self._assigned.setdefault(agent_id, {})[rec.id] = None
        params = self._params[rec.id]
        state = self._agents[agent_id]
        recent = dict(state.recent)
        if params.keep_recent:
            recent[rec.task.queue] = (*recent.get(rec.task.queue, ()), now)[-params.keep_recent:]
        self._put_agent(replace(state, missed=0, last_busy=now, recent=recent))
        waited = now - rec.task.created
        self._bump(now, rec.task, "assigned")
        self._bump(now, rec.task, "sl_met", 1 if waited <= params.service_level_seconds else 0)
        self._bump(now, rec.task, "accept_sum", waited)
        self._bump(now, rec.task, "accept_max", waited, maximum=True)
        return rec, accepted, rescinded

    async def close_offer(self, offer_id: str, status: OfferStatus, now: float, agent_id: str | None,
                          missed_limit: int) -> Closed | None:
        """End a pending offer by reject or timeout."""
        offer = self._offers.get(offer_id)
        if offer is None:
            if agent_id is None:
                return None
            raise OfferNotPending(f"offer {offer_id!r} is not pending (unknown, or already ended)")
        if agent_id is not None and offer.agent_id != agent_id:
            raise NotYourOffer(f"offer {offer_id!r} is not for agent {agent_id!r}")
        ended = self._end_offer(offer, status, now)
        requeued = self._reopen(offer.task_id, offer.agent_id, now)
        back = (requeued,) if requeued is not None else ()
        state = self._agents.get(offer.agent_id)
        if state is None:
            return Closed(ended, back, None)
        state = self._put_agent(replace(state, missed=state.missed + 1))
        if missed_limit <= 0 or state.missed < missed_limit:
            return Closed(ended, back, None)
        self._put_agent(replace(state, presence=Presence.BREAK, reason=MISSED_OFFERS, missed=0))
        others, more = self._rescind_agent(offer.agent_id, now)
        return Closed(ended, back + more, self._agents[offer.agent_id], others)

    async def take(self, task_id: str, agent_id: str, now: float) -> tuple[TaskRecord, tuple[Offer, ...]]:
        """Assign a waiting task to a named agent; its offers are rescinded."""
        rec = self._tasks.get(task_id)
        if rec is None or rec.state not in OPEN:
            raise InvalidState(f"task {task_id!r} is no longer waiting: someone took it")
        if agent_id not in self._agents:
            raise NotFound(f"no agent {agent_id!r}")
        rescinded = tuple(self._end_offer(self._offers[o], OfferStatus.RESCINDED, now)
                          for o in list(self._task_offers.get(task_id, {})))
        if rec.state is TaskState.PENDING:
            self._index.remove(rec)
        rec = self._tasks[task_id] = replace(rec, state=TaskState.ASSIGNED, agent_id=agent_id, offers=0,
                                             assigned_at=now)
        self._assigned.setdefault(agent_id, {})[task_id] = None
        state = self._agents[agent_id]
        self._put_agent(replace(state, load=bump_load(state, rec.task.channel, 1), missed=0, last_busy=now))
        self._bump(now, rec.task, "assigned")
        return rec, rescinded

    async def set_priority(self, task_id: str, priority: int, score: float) -> TaskRecord | None:
        """Move a waiting task to its new place in the queue."""
        rec = self._tasks.get(task_id)
        if rec is None or rec.state not in OPEN:
            return None
        if rec.state is TaskState.PENDING:
            self._index.remove(rec)
        rec = self._tasks[task_id] = replace(rec, task=replace(rec.task, priority=priority), score=score)
        if rec.state is TaskState.PENDING:
            self._index.add(rec)
        return rec

    async def new_round(self, task_id: str, round: int) -> TaskRecord | None:
        """Clear who declined the pending task and count its next round, if it is still in `round`."""
        rec = self._tasks.get(task_id)
        if rec is None or rec.state is not TaskState.PENDING:
            return None
        if rec.round == round:
            rec = self._tasks[task_id] = replace(rec, declined=frozenset(), round=round + 1)
        return rec

    async def complete(self, task_id: str, now: float, *, queues: Sequence[str] = (), page: int = 0,
                       next_offer: NextOffer | None = None) -> Released:
        """Finish an assigned task: wrap-up for voice if configured, else completed (in one process a
        read along or a match here saves nothing: `queues`, `page` and `next_offer` unused)."""
        rec = self._tasks.get(task_id)
        if rec is None or rec.state is not TaskState.ASSIGNED or rec.agent_id is None:
            raise InvalidState(f"task {task_id!r} is not assigned")
        state = self._agents[rec.agent_id]
        wrap = self._params[task_id].wrap_up_seconds if rec.task.channel == VOICE else 0
        load = bump_load(state, rec.task.channel, -1)
        self._bump(now, rec.task, "completed")
        if wrap > 0:
            self._put_agent(replace(state, load=load, wrapping=state.wrapping + 1))
            rec = self._tasks[task_id] = replace(rec, state=TaskState.WRAPPING)
            self._deadlines.set("w:" + task_id, now + wrap)
            return Released(rec)
        self._put_agent(replace(state, load=load, last_busy=now))
        return self._released(self._finish(rec, now, TaskState.COMPLETED), (), (rec.agent_id,))

    async def finish_wrap(self, task_id: str, now: float) -> Released | None:
        """End a wrap-up."""
        rec = self._tasks.get(task_id)
        if rec is None or rec.state is not TaskState.WRAPPING or rec.agent_id is None:
            return None
        state = self._agents[rec.agent_id]
        self._put_agent(replace(state, wrapping=max(0, state.wrapping - 1), last_busy=now))
        return self._released(self._finish(rec, now, TaskState.COMPLETED), (), (rec.agent_id,))

    async def cancel(self, task_id: str, now: float) -> Released:
        """Cancel a live task in any state."""
        rec = self._tasks.get(task_id)
        if rec is None:
            raise NotFound(f"no live task {task_id!r}")
        rescinded = tuple(self._end_offer(self._offers[o], OfferStatus.RESCINDED, now)
                          for o in list(self._task_offers.get(task_id, {})))
        freed = tuple(o.agent_id for o in rescinded)
        if rec.state is TaskState.PENDING:
            self._index.remove(rec)
        if rec.state in OPEN:
            self._bump(now, rec.task, "abandoned")
        elif rec.agent_id is not None and rec.agent_id in self._agents:
            state = self._agents[rec.agent_id]
            if rec.state is TaskState.WRAPPING:
                state = replace(state, wrapping=max(0, state.wrapping - 1))
            else:
                state = replace(state, load=bump_load(state, rec.task.channel, -1))
            self._put_agent(replace(state, last_busy=now))
            self._deadlines.discard("w:" + task_id)
            freed += (rec.agent_id,)
        return self._released(self._finish(rec, now, TaskState.CANCELED), rescinded, freed)

    # -- deadlines and reads ---------------------------------------------------------------
    async def schedule(self, member: str, at: float) -> None:
        """Remember a deadline; an earlier one for the same member is kept."""
        self._deadlines.keep_earliest(member, at)

    async def pop_due(self, now: float) -> list[str]:
        """Take the deadlines due at `now`, earliest first."""
        return self._deadlines.pop_due(now)

    async def next_deadline(self) -> float | None:
        """The earliest deadline."""
        return self._deadlines.next()

    async def offers_for(self, agent_id: str) -> list[Offer]:
        """An agent's pending offers."""
        return [self._offers[o] for o in self._agent_offers.get(agent_id, {})]

    async def assignments_for(self, agent_id: str) -> list[TaskRecord]:
        """An agent's assigned and wrapping tasks."""
        return [self._tasks[t] for t in self._assigned.get(agent_id, {})]

    async def owned(self, agent_id: str) -> list[TaskRecord]:
        """Live tasks whose owner is the agent."""
        return [self._tasks[t] for t in self._owned.get(agent_id, {})]

    async def snapshot(self, now: float) -> Snapshot:
        """Everything, for stats and explanations."""
        return Snapshot(now, tuple(self._agents.values()), tuple(self._tasks.values()),
                        tuple(self._offers.values()), dict(self._counters.get(day_of(now), {})))

    async def aclose(self) -> None:
        """Nothing to release."""
