"""The routing engine: event-driven decisions over a state backend, driven by an injected clock."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from routing.backends import NextOffer, Snapshot, TaskParams
from routing.steps import FIRST_PAGE, RoutingSteps, Run, new_offer_id
from routing.events import (
    Decision,
    NotFound,
    OfferCancelled,
    RoutingOutcome,
    PresenceChanged,
    TaskAssigned,
    TaskExists,
)
from routing.ordering import queue_score
from routing.policies import choose, matchable_in_backend
from routing.stats import QueueStats, compute_stats
from routing.types import Agent, Assignment, Offer, OfferStatus, Policy, Presence, Task, TaskRecord, TaskState


class RoutingEngine(RoutingSteps):
    """Routes tasks to agents at once on every state change; timeouts come from `expire_due`."""

    # -- agents ----------------------------------------------------------------------------
    async def upsert_agent(self, agent: Agent) -> RoutingOutcome:
        """Create or reconfigure an agent (skills, capacity, hours); new agents start offline."""
        run = Run(self._now())
        state = await self.backend.upsert_agent(agent, run.now)
        await self._schedule_agent(state, run.now)
        await self._route_agent(agent.id, run)
        await self._route_owned(agent.id, run)
        return run.outcome()

    async def set_presence(self, agent_id: str, presence: Presence | str, reason: str | None = None) -> RoutingOutcome:
        """Change presence; becoming available routes waiting work, leaving rescinds pending offers."""
        run = Run(self._now())
        presence = Presence(presence)
        state, rescinded, requeued = await self.backend.set_presence(agent_id, presence, reason, run.now)
        run.events.append(PresenceChanged(agent_id, state.presence, state.reason))
        run.events.extend(OfferCancelled(o) for o in rescinded)
        for rec in self._in_order(requeued, run.now):
            await self._route_task(rec, run)
        await self._route_agent(agent_id, run)
        await self._route_owned(agent_id, run)
        return run.outcome()

    # -- tasks -----------------------------------------------------------------------------
    async def add_task(self, task: Task, *, restored: bool = False) -> RoutingOutcome:
        """Queue a task and offer it at once if someone eligible is free (created 0 means now).

        `restored`: re-added from a stored copy; refused if routing finished that task lately."""
        run = Run(self._now())
        await self._add(task, run, restored)
        return run.outcome()

    async def add_tasks(self, tasks: Sequence[Task], exists: list[str]) -> RoutingOutcome:
        """`add_task` of each, in order, as one call (the new leads of one group commit); the id of a task
        routing holds already goes to `exists` instead of failing the others."""
        run = Run(self._now())
        for task in tasks:
            try:
                await self._add(task, run, False)
            except TaskExists:
                exists.append(task.id)
        return run.outcome()

    async def _add(self, task: Task, run: Run, restored: bool) -> None:
        queue = self._queue(task.queue)
        task = replace(task, created=round(task.created, 3) if task.created > 0 else run.now)
        keep = queue.fairness.max_assignments if queue.fairness else 0
        params = TaskParams(queue.service_level_seconds, queue.wrap_up_seconds, keep)
        offer = None
        if matchable_in_backend(TaskRecord(task), queue):
            offer = Offer(new_offer_id(), task.id, "", task.channel, task.queue, run.now, run.now + queue.offer_timeout)
        added = await self.backend.add_task(task, queue_score(task, queue), params, run.now, queue.policy,
                                            restored=restored, offer=offer)
        if added is None:
            raise TaskExists(f"task {task.id!r} exists already")
        if added.offered is not None:
            self._record_match(added, run)
        else:
            await self._route_task(added.record, run, added.pool)

    async def accept(self, offer_id: str, agent_id: str) -> RoutingOutcome:
        """Accept a pending offer (first accept wins); raises OfferNotPending / NotYourOffer."""
        run = Run(self._now())
        rec, offer, rescinded = await self.backend.accept(offer_id, agent_id, run.now)
        run.events.extend(OfferCancelled(o) for o in rescinded)
        run.events.append(TaskAssigned(Assignment(rec.id, agent_id, offer.id, offer.channel, offer.queue, run.now)))
        for other in rescinded:
            await self._route_agent(other.agent_id, run)
        if self._fairness:  # the owner may have just reached a fairness cap: others may take its tasks
            state = (await self.backend.get_agents([agent_id]))[0]
            if state is not None:
                await self._schedule_agent(state, run.now)
            await self._route_owned(agent_id, run)
        return run.outcome()

    async def take(self, task_id: str, agent_id: str) -> RoutingOutcome:
        """A person takes a waiting task from a list: atomic like an accept; InvalidState if someone was first."""
        run = Run(self._now())
        rec, rescinded = await self.backend.take(task_id, agent_id, run.now)
        run.events.extend(OfferCancelled(o) for o in rescinded)
        run.events.append(TaskAssigned(Assignment(rec.id, agent_id, "take:" + new_offer_id(), rec.task.channel,
                                                  rec.task.queue, run.now)))
        for other in rescinded:
            if other.agent_id != agent_id:
                await self._route_agent(other.agent_id, run)
        return run.outcome()

    async def set_priority(self, task_id: str, priority: int) -> RoutingOutcome:
        """A waiting task's priority changed: it moves to its new place in line (and may be offered at once)."""
        run = Run(self._now())
        rec = await self.backend.get_task(task_id)
        if rec is None:
            raise NotFound(f"no live task {task_id!r}")
        score = queue_score(replace(rec.task, priority=priority), self._queue(rec.task.queue))
        moved = await self.backend.set_priority(task_id, priority, score)
        if moved is not None and moved.state is TaskState.PENDING:
            await self._route_task(moved, run)
        return run.outcome()

    async def decline(self, offer_id: str, agent_id: str) -> RoutingOutcome:
        """Reject an offer; the task goes to the next agent."""
        run = Run(self._now())
        closed = await self.backend.close_offer(offer_id, OfferStatus.REJECTED, run.now, agent_id,
                                                self.missed_offers_limit)
        assert closed is not None
        await self._after_close(closed, run)
        return run.outcome()

    async def complete(self, task_id: str) -> RoutingOutcome:
        """Finish an assigned task; voice may wrap up first; the agent's capacity goes to waiting work."""
        run = Run(self._now())
        released = await self.backend.complete(task_id, run.now, queues=list(self.queues), page=FIRST_PAGE,
                                               next_offer=self._next_offer())
        await self._after_release(released, run)
        return run.outcome()

    _offer_queues: Mapping[str, tuple[Policy, float, float]] | None = None

    def _next_offer(self) -> NextOffer | None:
        """What the backend needs to offer a freed agent's next task itself: only if every queue allows it
        (the best task may be in any of them)."""
        if not self._all_matchable:
            return None
        queues = self._offer_queues
        if queues is None:      # the queues are set once (as `_all_matchable`): the same mapping every call
            queues = self._offer_queues = {name: (q.policy, q.aging_seconds or 0.0, q.offer_timeout)
                                           for name, q in self.queues.items()}
        return NextOffer(new_offer_id(), queues)

    async def cancel(self, task_id: str) -> RoutingOutcome:
        """Cancel a task in any live state (abandoned if it was still waiting)."""
        run = Run(self._now())
        released = await self.backend.cancel(task_id, run.now)
        run.events.extend(OfferCancelled(o) for o in released.rescinded)
        await self._after_release(released, run)
        return run.outcome()

    async def expire_due(self, now: float | None = None) -> RoutingOutcome:
        """Handle every deadline due at `now`: offer timeouts, wrap-up ends, owner waits, escalations, hours."""
        run = Run(round(now, 3) if now is not None else self._now())
        due = [member.partition(":")[::2] for member in await self.backend.pop_due(run.now)]
        # Every offer that timed out is closed before any is followed up: an agent freed by the first would otherwise
        # take a newer task while an older one still looked offered, its own timeout next in this pass (FIFO broken
        # whenever two offers expire together). The rest is read fresh as it comes, after all of them.
        closed = {ident: await self.backend.close_offer(ident, OfferStatus.TIMEOUT, run.now, None,
                                                        self.missed_offers_limit)
                  for kind, ident in due if kind == "o"}
        for kind, ident in due:
            if kind == "o":
                if (done := closed[ident]) is not None:
                    await self._after_close(done, run)
            elif kind == "w":
                released = await self.backend.finish_wrap(ident, run.now)
                if released is not None:
                    await self._after_release(released, run)
            elif kind == "t":
                rec = await self.backend.get_task(ident)
                if rec is not None and rec.state is TaskState.PENDING:
                    await self._route_task(rec, run)
            elif kind == "a":
                state = (await self.backend.get_agents([ident]))[0]
                if state is not None:
                    await self._schedule_agent(state, run.now)
                    await self._route_agent(ident, run)
                    await self._route_owned(ident, run)
        return run.outcome()

    async def next_deadline(self) -> float | None:
        """When `expire_due` should next be called (epoch seconds), or None."""
        return await self.backend.next_deadline()

    # -- reads -----------------------------------------------------------------------------
    async def offers_for(self, agent_id: str) -> list[Offer]:
        """An agent's pending offers (for a reconnecting client)."""
        return await self.backend.offers_for(agent_id)

    async def assignments_for(self, agent_id: str) -> list[TaskRecord]:
        """An agent's assigned and wrapping tasks (for a reconnecting client)."""
        return await self.backend.assignments_for(agent_id)

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """A live task."""
        return await self.backend.get_task(task_id)

    async def snapshot(self) -> Snapshot:
        """All live state."""
        return await self.backend.snapshot(self._now())

    async def stats(self) -> dict[str, QueueStats]:
        """Queue statistics keyed "queue:<name>" and "channel:<name>"."""
        return compute_stats(await self.snapshot(), self.queues)

    async def explain(self, task_id: str) -> Decision:
        """Evaluate every agent for a task now, with the reason each one is skipped."""
        now = self._now()
        rec = await self.backend.get_task(task_id)
        if rec is None:
            raise NotFound(f"no live task {task_id!r}")
        snap = await self.backend.snapshot(now)
        queue = self._queue(rec.task.queue)
        owner = next((a for a in snap.agents if a.id == rec.task.owner), None)
        return choose(rec, queue, sorted(snap.agents, key=lambda a: a.id), owner, now)


__all__ = ["RoutingEngine"]
