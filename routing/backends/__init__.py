"""The routing state backend interface: each method is one atomic step on shared state."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from routing.types import Agent, AgentState, Offer, OfferStatus, Policy, Presence, Task, TaskRecord, TaskState


@dataclass(frozen=True, slots=True)
class TaskParams:
    """Queue settings a backend needs inside its atomic steps."""

    service_level_seconds: float = 20.0
    wrap_up_seconds: float = 0.0
    keep_recent: int = 0  # accept times kept per agent for the fairness window


@dataclass(frozen=True, slots=True)
class Pool:
    """Agents that may take a task: available with room on its channel, plus the named ones (owner)."""

    free: Iterable[AgentState]
    named: list[AgentState | None]
    ordered: bool = False  # `free` comes in the policy's order (an index): stop at the first eligible
    partial: bool = False  # only the head of that order: ask again with policy=None if none fits


@dataclass(frozen=True, slots=True)
class Added:
    """A queued task with the agents that may take it, read in the same atomic step."""

    record: TaskRecord
    pool: Pool
    # Set when the backend matched the task itself (add_task's `offer`): the offers it made, maybe none;
    # `pool` then holds the agents it looked at, in policy order.
    offered: tuple[Offer, ...] | None = None


@dataclass(frozen=True, slots=True)
class Closed:
    """An offer that ended without an accept, and what followed from it."""

    offer: Offer
    requeued: tuple[TaskRecord, ...]  # tasks back to pending
    on_break: AgentState | None  # the agent, put on a missed-offers break
    rescinded: tuple[Offer, ...] = ()  # the agent's other offers, if put on break


@dataclass(frozen=True, slots=True)
class Released:
    """A task that left an agent or a queue: who got capacity back, which offers ended."""

    # The task as it is now; None where the backend did not read it back whole (a completed task, whose id,
    # state and agent, all the engine reads of it, are in `ended`).
    record: TaskRecord | None
    rescinded: tuple[Offer, ...] = ()
    freed: tuple[str, ...] = ()
    agents: tuple[AgentState, ...] = ()  # the freed agents as they are now, where known
    # Read along by `complete(..., queues=, page=)`: the freed agent's first `pending` read, and its keys.
    keys: tuple[tuple[str, str], ...] = ()
    pages: Pages | None = None
    # Set when the backend offered the freed agent's next task itself (`complete(..., next_offer=)`): the
    # task as it waited, the agents looked at in policy order, the offer made (then `pages` is None).
    matched: Added | None = None
    ended: tuple[str, TaskState, str | None] | None = None

    def end(self) -> tuple[str, TaskState, str | None]:
        """The task's id, its state now and its agent."""
        if self.ended is not None:
            return self.ended
        assert self.record is not None
        return self.record.id, self.record.state, self.record.agent_id


@dataclass(frozen=True, slots=True)
class NextOffer:
    """What a backend needs to offer a freed agent's next task itself: every queue of the engine, each
    `policies.matchable_in_backend`, with its policy, aging and offer timeout; the new offer's id."""

    offer_id: str
    queues: Mapping[str, tuple[Policy, float, float]]  # name -> (policy, aging seconds or 0, offer timeout)


@dataclass(frozen=True, slots=True)
class Pages:
    """Pending tasks per (queue, channel), and optionally the free agents per channel read with them."""

    pages: Sequence[Sequence[TaskRecord]]
    free: Mapping[str, Sequence[AgentState]] | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """All live routing state at one moment."""

    at: float
    agents: tuple[AgentState, ...]
    tasks: tuple[TaskRecord, ...]
    offers: tuple[Offer, ...]
    counters: Mapping[str, float]  # today's "q:<queue>:<metric>" and "c:<channel>:<metric>"


class RoutingBackend(Protocol):
    """Routing state, in one process or shared by many through Redis."""

    async def upsert_agent(self, agent: Agent, now: float) -> AgentState:
        """Create or reconfigure an agent, keeping its presence and load."""

    async def set_presence(self, agent_id: str, presence: Presence, reason: str | None,
                           now: float) -> tuple[AgentState, tuple[Offer, ...], tuple[TaskRecord, ...]]:
        """Set presence; leaving `available` rescinds pending offers (returned with requeued tasks)."""

    async def candidates(self, channel: str, ids: Sequence[str], policy: Policy | None) -> Pool:
        """Available agents with free capacity on `channel` (in `policy` order if indexed), and `ids`."""

    async def get_agents(self, ids: Sequence[str]) -> list[AgentState | None]:
        """Agents by id."""

    async def add_task(self, task: Task, score: float, params: TaskParams, now: float,
                       policy: Policy, *, restored: bool = False, offer: Offer | None = None) -> Added | None:
        """Queue a new task and read its candidates; None if the id is known already.

        `restored`: re-added from the database, which may have been read before routing finished the
        task (an accept and a close in between): None too if the id finished within the last hour.
        `offer` (no agent yet), only for a task `policies.matchable_in_backend` allows: the backend may
        make it, in the same atomic step, to the first agent in `policy` order that is free and fits
        (queue, channel, skills); it says so in `Added.offered`, else the engine decides as usual."""

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """A live task by id."""

    async def pending(self, keys: Sequence[tuple[str, str]], offset: int, limit: int) -> Pages:
        """Pending tasks of each (queue, channel) in queue order, a page each (maybe with free agents)."""

    async def reserve(self, task_id: str, offers: Sequence[Offer], max_pending: int) -> list[Offer]:
        """Atomically: while the task is open and the agent available with free capacity, make the offer."""

    async def accept(self, offer_id: str, agent_id: str, now: float) -> tuple[TaskRecord, Offer, tuple[Offer, ...]]:
        """Atomically accept a pending offer; the task's other offers are rescinded. First accept wins."""

    async def close_offer(self, offer_id: str, status: OfferStatus, now: float, agent_id: str | None,
                          missed_limit: int) -> Closed | None:
        """End a pending offer (reject, timeout); None if it is no longer pending and no agent was named."""

    async def take(self, task_id: str, agent_id: str, now: float) -> tuple[TaskRecord, tuple[Offer, ...]]:
        """Atomically assign a waiting task to a named agent, rescinding its offers; InvalidState if taken."""

    async def set_priority(self, task_id: str, priority: int, score: float) -> TaskRecord | None:
        """A waiting task's new priority and queue position; None if it is no longer waiting."""

    async def new_round(self, task_id: str, round: int) -> TaskRecord | None:
        """Start the pending task's next offer round: if it is still in `round`, clear who declined it and
        count the round. The task as it is now (another process may have started the round); None if it
        is no longer pending."""

    async def complete(self, task_id: str, now: float, *, queues: Sequence[str] = (), page: int = 0,
                       next_offer: NextOffer | None = None) -> Released:
        """Finish an assigned task: wrap-up for voice if configured, else completed.

        `page` > 0: the backend may also read, in the same step, what `pending` would give for the freed
        agent's (available) next task: the first `page` tasks of each of `queues` it serves on each channel
        it has room on, with the free agents (`Released.keys` and `.pages`). With `next_offer` it may
        instead decide that step itself where nothing needs the engine's judgement (no owner, team or
        working hours in the way): the engine's best task for the agent, offered to the first free agent
        that fits in the queue's policy order (`Released.matched`)."""

    async def finish_wrap(self, task_id: str, now: float) -> Released | None:
        """End a wrap-up."""

    async def cancel(self, task_id: str, now: float) -> Released:
        """Cancel a live task in any state."""

    async def schedule(self, member: str, at: float) -> None:
        """Remember a deadline (offer expiry, wrap end, time-based re-route)."""

    async def pop_due(self, now: float) -> list[str]:
        """Take the deadlines due at `now`, earliest first; each is handed to one caller only."""

    async def next_deadline(self) -> float | None:
        """The earliest deadline; a shared backend may answer early (a deadline ended since), and may
        leave out other processes' until its next `pop_due` (a caller checks on a shared backend anyway)."""

    async def offers_for(self, agent_id: str) -> list[Offer]:
        """An agent's pending offers."""

    async def assignments_for(self, agent_id: str) -> list[TaskRecord]:
        """An agent's assigned and wrapping tasks."""

    async def owned(self, agent_id: str) -> list[TaskRecord]:
        """Live tasks whose owner is the agent."""

    async def snapshot(self, now: float) -> Snapshot:
        """Everything, for stats and explanations."""

    async def aclose(self) -> None:
        """Release connections."""


def day_of(now: float) -> int:
    """The UTC day number that daily counters are filed under."""
    return int(now // 86400)


__all__ = ["Added", "Closed", "NextOffer", "Pages", "Pool", "Released", "RoutingBackend", "Snapshot", "TaskParams", "day_of"]
