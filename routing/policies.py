"""Pure selection rules: capacity, eligibility with reasons, policy scores, choosing agents."""
from __future__ import annotations

from collections.abc import Iterable

from routing.events import Candidate, Decision, Skipped
from routing.types import VOICE, AgentState, Policy, Presence, QueueConfig, Skip, TaskRecord


def effective_capacity(state: AgentState, channel: str) -> int:
    """Capacity on `channel`, shrunk while a call is live if the agent is configured so."""
    cap = state.agent.capacity.get(channel, 0)
    if channel != VOICE and state.load.get(VOICE, 0) > 0:
        limit = state.agent.on_call_capacity.get(channel)
        if limit is not None:
            cap = min(cap, limit)
    return cap


def free_capacity(state: AgentState, channel: str) -> int:
    """How many more tasks of `channel` the agent can take now (presence aside)."""
    if channel == VOICE and state.wrapping:
        return 0
    return max(0, effective_capacity(state, channel) - state.load.get(channel, 0))


def recent_count(state: AgentState, queue: str, since: float) -> int:
    """Assignments in `queue` accepted at or after `since`."""
    return sum(1 for t in state.recent.get(queue, ()) if t >= since)


def team_allowed(record: TaskRecord, queue: QueueConfig, team: str | None, now: float) -> bool:
    """Whether an agent of `team` may take the task yet (escalation widens the circle)."""
    task = record.task
    if task.team is None or team == task.team:
        return True
    waited = now - task.created
    return any(waited >= step.after_seconds and (step.teams is None or team in step.teams)
               for step in queue.escalation)


def agent_skip(state: AgentState, record: TaskRecord, queue: QueueConfig, now: float,
               owner_blocks: bool) -> tuple[Skip, str] | None:
    """The first reason this agent cannot take the task now, or None if eligible."""
    agent, task = state.agent, record.task
    if state.presence is Presence.OFFLINE:
        return Skip.OFFLINE, ""
    if state.presence is not Presence.AVAILABLE:
        return Skip.ON_BREAK, state.reason or state.presence.value
    if agent.hours is not None and not agent.hours.is_open(now):
        return Skip.OUTSIDE_HOURS, ""
    if agent.queues and task.queue not in agent.queues:
        return Skip.NOT_IN_QUEUE, task.queue
    if agent.capacity.get(task.channel, 0) <= 0:
        return Skip.NO_CHANNEL, task.channel
    for skill, level in task.required_skills.items():
        if agent.skills.get(skill, 0) < level:
            return Skip.MISSING_SKILL, f"{skill}<{level}"
    gate = queue.priority_gate
    if gate and task.priority >= gate.min_priority and agent.skills.get(gate.skill, 0) < gate.min_level:
        return Skip.SKILL_GATE, f"{gate.skill}<{gate.min_level}"
    if agent.id in record.declined:
        return Skip.DECLINED, ""
    if task.owner != agent.id:
        if owner_blocks:
            return Skip.NOT_OWNER_YET, task.owner or ""
        if not team_allowed(record, queue, agent.team, now):
            return Skip.NOT_IN_TEAM_YET, task.team or ""
    fair = queue.fairness
    if fair and recent_count(state, task.queue, now - fair.period_seconds) >= fair.max_assignments:
        return Skip.FAIRNESS_CAP, f"{fair.max_assignments}/{fair.period_seconds:g}s"
    # Load last: an owner who is eligible but busy makes others wait (see owner_blocks).
    if task.channel == VOICE and state.wrapping:
        return Skip.WRAP_UP, ""
    if free_capacity(state, task.channel) <= 0:
        return Skip.AT_CAPACITY, task.channel
    return None


def owner_blocks(record: TaskRecord, queue: QueueConfig, owner: AgentState | None, now: float) -> bool:
    """Whether others must wait: the owner is eligible (free or just busy) and the wait is not over."""
    task = record.task
    if owner is None or task.owner is None or now >= task.created + queue.owner_wait_seconds:
        return False
    skip = agent_skip(owner, record, queue, now, owner_blocks=False)
    return skip is None or skip[0] in (Skip.AT_CAPACITY, Skip.WRAP_UP)


def next_eligibility_change(record: TaskRecord, queue: QueueConfig, now: float) -> float | None:
    """When more agents become eligible for the task just by time passing (owner wait, escalation)."""
    task = record.task
    times = []
    if task.owner is not None:
        times.append(task.created + queue.owner_wait_seconds)
    if task.team is not None:
        times.extend(task.created + step.after_seconds for step in queue.escalation)
    future = [t for t in times if t > now]
    return min(future) if future else None


INDEXED = (Policy.LONGEST_IDLE, Policy.ROUND_ROBIN, Policy.LEAST_LOADED)


def matchable_in_backend(record: TaskRecord, queue: QueueConfig) -> bool:
    """Whether a new task's first decision needs nothing but an index walk: the first agent in `queue`'s
    order that is free, in the queue, on the channel and skilled enough wins (a shared backend can then
    decide it in its own atomic step). No owner, team, fairness or gate to weigh; one offer at a time."""
    task, gate = record.task, queue.priority_gate
    return (queue.policy in (Policy.LONGEST_IDLE, Policy.ROUND_ROBIN) and queue.broadcast <= 1
            and task.owner is None and task.team is None and queue.fairness is None
            and (gate is None or task.priority < gate.min_priority))


def queue_matchable_in_backend(queue: QueueConfig) -> bool:
    """Whether every task of `queue` without owner and team is `matchable_in_backend`, whatever its priority."""
    return (queue.policy in (Policy.LONGEST_IDLE, Policy.ROUND_ROBIN) and queue.broadcast <= 1
            and queue.fairness is None and queue.priority_gate is None)


def rank_key(state: AgentState, channel: str, policy: Policy) -> tuple[float | str, ...]:
    """The task-independent part of the policy order (for INDEXED policies), ending with the agent id."""
    if policy is Policy.LEAST_LOADED:
        cap = effective_capacity(state, channel) or 1
        return (state.load.get(channel, 0) / cap, state.last_busy, state.id)
    if policy is Policy.ROUND_ROBIN:
        return (float(state.rr), state.id)
    return (state.last_busy, state.id)


def policy_score(state: AgentState, record: TaskRecord, queue: QueueConfig) -> tuple[float | str, ...]:
    """Sort key under the queue's policy (lower first); the owner always sorts first; ties by agent id."""
    task, agent = record.task, state.agent
    owner_rank = 0.0 if task.owner == agent.id else 1.0
    policy = queue.policy
    if policy in INDEXED:
        return (owner_rank, *rank_key(state, task.channel, policy))
    if policy is Policy.HIGHEST_SKILL:
        skills = task.required_skills or ({queue.priority_gate.skill: 0} if queue.priority_gate else {})
        key: tuple[float | str, ...] = (-float(sum(agent.skills.get(s, 0) for s in skills)), state.last_busy)
    else:
        order = queue.fixed_order
        key = (float(order.index(agent.id) if agent.id in order else len(order)),)
    return (owner_rank, *key, agent.id)


def choose(record: TaskRecord, queue: QueueConfig, agents: Iterable[AgentState], owner: AgentState | None,
           now: float, ordered: bool = False) -> Decision:
    """Evaluate agents for a task; pick up to `queue.broadcast` of them by policy."""
    # `ordered`: the agents come in policy order already (an index), so the first eligible ones win.
    blocks = owner_blocks(record, queue, owner, now)
    count = max(1, queue.broadcast if not blocks else 1)
    candidates: list[Candidate] = []
    skipped: list[Skipped] = []
    seen_owner = False
    others = 0
    note = ""
    if ordered and blocks:
        agents, note = (), "others not scanned: waiting for the owner"
    for state in agents:
        is_owner = state.id == record.task.owner
        seen_owner = seen_owner or is_owner
        skip = agent_skip(state, record, queue, now, blocks)
        if skip is None:
            candidates.append(Candidate(state.id, policy_score(state, record, queue)))
            others += not is_owner
            if ordered and others >= count:
                note = "ranked by index: stopped at the first eligible"
                break
        else:
            skipped.append(Skipped(state.id, *skip))
    if owner is not None and not seen_owner:
        skip = agent_skip(owner, record, queue, now, blocks)
        if skip is None:
            candidates.append(Candidate(owner.id, policy_score(owner, record, queue)))
        else:
            skipped.append(Skipped(owner.id, *skip))
    candidates.sort(key=lambda c: c.score)
    chosen = tuple(c.agent_id for c in candidates[:count])
    if blocks and not chosen:
        note = "waiting for owner"
    return Decision(record.id, record.task.queue, queue.policy, now, chosen, tuple(candidates), tuple(skipped), note,
                    record.round)


def stalled_by_declines(decision: Decision) -> bool:
    """Whether nobody was chosen while an agent who declined or missed the task is free to take it again:
    no one else who may take it is left this round (they would have been chosen)."""
    return not decision.chosen and any(s.reason is Skip.DECLINED for s in decision.skipped)


def next_round_at(record: TaskRecord, queue: QueueConfig) -> float:
    """When the task's next offer round may start: the queue's pause after its last decline or miss."""
    return record.declined_at + queue.round_pause_seconds


def round_due(record: TaskRecord, queue: QueueConfig, now: float) -> bool:
    """Whether agents who declined the task may be asked again (in a new round) if no one else takes it."""
    return bool(record.declined) and now >= next_round_at(record, queue)


def free_for_a_call(state: AgentState | None) -> bool:
    """Whether the agent's phone may ring now: available, no call or wrap-up under way, a voice line at all."""
    return (state is not None and state.presence is Presence.AVAILABLE and state.load.get(VOICE, 0) == 0
            and not state.wrapping and state.agent.capacity.get(VOICE, 0) > 0)


def phone_to_ring(agents: Iterable[AgentState], queue: str) -> AgentState | None:
    """The agent whose phone a call waiting in `queue` rings (FastAGI asks before the call is a task).

    Longest idle first, ties by agent id: what the default queue policy picks for every other channel.
    """
    free = [a for a in agents if free_for_a_call(a) and (not a.agent.queues or queue in a.agent.queues)]
    return min(free, key=lambda a: rank_key(a, VOICE, Policy.LONGEST_IDLE), default=None)
