"""In-process routing state and its primitive transitions (the MemoryBackend builds on these)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from routing.backends import Released, TaskParams, day_of
from routing.backends.indexes import Deadlines, PendingIndex, RankIndex
from routing.policies import free_capacity
from routing.types import AgentState, Offer, OfferStatus, Presence, Task, TaskRecord, TaskState

OPEN = (TaskState.PENDING, TaskState.RESERVED)


def bump_load(state: AgentState, channel: str, by: int) -> dict[str, int]:
    load = dict(state.load)
    load[channel] = max(0, load.get(channel, 0) + by)
    return load


FINISHED_KEPT = 3600.0   # as long as the Redis backend remembers a finished task id (for restored adds)

class MemoryState:
    """Dicts and indexes; every helper keeps them consistent with each other."""

    def __init__(self) -> None:
        self._agents: dict[str, AgentState] = {}
        self._free: dict[str, dict[str, None]] = {}
        self._ranks = RankIndex()
        self._tasks: dict[str, TaskRecord] = {}
        self._params: dict[str, TaskParams] = {}
        self._index = PendingIndex()
        self._offers: dict[str, Offer] = {}
        self._agent_offers: dict[str, dict[str, None]] = {}
        self._task_offers: dict[str, dict[str, None]] = {}
        self._assigned: dict[str, dict[str, None]] = {}
        self._owned: dict[str, dict[str, None]] = {}
        self._deadlines = Deadlines()
        self._counters: dict[int, dict[str, float]] = {}
        self._seq = 0
        self._done: dict[str, float] = {}     # finished task id -> when (kept FINISHED_KEPT seconds)

    # -- helpers ---------------------------------------------------------------------------
    def _put_agent(self, state: AgentState, old_channels: Sequence[str] = ()) -> AgentState:
        self._agents[state.id] = state
        for channel in {*state.agent.capacity, *old_channels}:
            free = self._free.setdefault(channel, {})
            room = state.presence is Presence.AVAILABLE and free_capacity(state, channel) > 0
            if room:
                free[state.id] = None
            else:
                free.pop(state.id, None)
            self._ranks.update(state, channel, room)
        return state

    def _bump(self, now: float, task: Task, metric: str, by: float = 1, maximum: bool = False) -> None:
        counters = self._counters.setdefault(day_of(now), {})
        for key in (f"q:{task.queue}:{metric}", f"c:{task.channel}:{metric}"):
            counters[key] = max(counters.get(key, 0), by) if maximum else counters.get(key, 0) + by

    def _end_offer(self, offer: Offer, status: OfferStatus, now: float) -> Offer:
        """Close a pending offer and give its capacity back; the task is updated by the caller."""
        del self._offers[offer.id]
        self._agent_offers.get(offer.agent_id, {}).pop(offer.id, None)
        self._task_offers.get(offer.task_id, {}).pop(offer.id, None)
        self._deadlines.discard("o:" + offer.id)
        state = self._agents.get(offer.agent_id)
        if state is not None and status is not OfferStatus.ACCEPTED:
            self._put_agent(replace(state, load=bump_load(state, offer.channel, -1)))
        rec = self._tasks.get(offer.task_id)
        if rec is not None and status is not OfferStatus.ACCEPTED:
            self._bump(now, rec.task, status.value)
        return replace(offer, status=status)

    def _reopen(self, task_id: str, declined: str | None = None, now: float = 0.0) -> TaskRecord | None:
        """One offer fewer on the task; back to pending when it was the last."""
        rec = self._tasks.get(task_id)
        if rec is None or rec.state not in OPEN:
            return None
        rec = replace(rec, offers=max(0, rec.offers - 1))
        if declined:
            rec = replace(rec, declined=rec.declined | {declined}, declined_at=now)
        if rec.offers == 0:
            rec = replace(rec, state=TaskState.PENDING)
            self._index.add(rec)
        self._tasks[task_id] = rec
        return rec if rec.state is TaskState.PENDING else None

    def _rescind_agent(self, agent_id: str, now: float) -> tuple[tuple[Offer, ...], tuple[TaskRecord, ...]]:
        ended, requeued = [], []
        for offer_id in list(self._agent_offers.get(agent_id, {})):
            offer = self._end_offer(self._offers[offer_id], OfferStatus.RESCINDED, now)
            ended.append(offer)
            rec = self._reopen(offer.task_id)
            if rec is not None:
                requeued.append(rec)
        return tuple(ended), tuple(requeued)

    # -- agents ----------------------------------------------------------------------------
    def _released(self, rec: TaskRecord, rescinded: tuple[Offer, ...], freed: tuple[str, ...]) -> Released:
        return Released(rec, rescinded, freed, tuple(self._agents[a] for a in dict.fromkeys(freed) if a in self._agents))

    def _finish(self, rec: TaskRecord, now: float, state: TaskState) -> TaskRecord:
        del self._tasks[rec.id]
        self._done[rec.id] = now
        while self._done and next(iter(self._done.values())) < now - FINISHED_KEPT:
            del self._done[next(iter(self._done))]
        self._params.pop(rec.id, None)
        self._task_offers.pop(rec.id, None)
        if rec.agent_id is not None:
            self._assigned.get(rec.agent_id, {}).pop(rec.id, None)
        if rec.task.owner:
            self._owned.get(rec.task.owner, {}).pop(rec.id, None)
        return replace(rec, state=state)

