"""Queue statistics in TaskRouter's vocabulary, per queue and per channel, from one snapshot."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from routing.backends import Snapshot
from routing.policies import effective_capacity, free_capacity
from routing.types import AgentState, Presence, QueueConfig, TaskRecord, TaskState


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Live and today's numbers for one queue or one channel."""

    name: str
    kind: str  # "queue" or "channel"
    waiting: int = 0
    reserved: int = 0
    assigned: int = 0
    wrapping: int = 0
    longest_waiting_age: float = 0.0
    longest_waiting_task: str | None = None
    waiting_by_priority: Mapping[int, int] = field(default_factory=dict)
    eligible_agents: int = 0
    available_agents: int = 0
    agents_by_activity: Mapping[str, int] = field(default_factory=dict)
    agents_by_reason: Mapping[str, int] = field(default_factory=dict)
    free_capacity: Mapping[str, int] = field(default_factory=dict)
    occupancy_pct: Mapping[str, float] = field(default_factory=dict)
    entered_today: int = 0
    assigned_today: int = 0
    abandoned_today: int = 0
    completed_today: int = 0
    service_level_pct: float | None = None
    avg_time_to_accept: float | None = None
    max_time_to_accept: float | None = None
    rejected_today: int = 0
    timed_out_today: int = 0
    rescinded_today: int = 0
    sla_at_risk: int = 0     # not yet taken, past 80% of its time to answer (its SLA deadline, else the queue's SL)
    sla_breached: int = 0    # not yet taken, past it

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = asdict(self)
        data["waiting_by_priority"] = {str(k): v for k, v in self.waiting_by_priority.items()}
        return data


def _agent_numbers(agents: list[AgentState], channels: list[str]) -> dict[str, Any]:
    activity = Counter(a.activity for a in agents)
    reasons = Counter(a.reason for a in agents if a.reason and a.presence is not Presence.AVAILABLE)
    available = [a for a in agents if a.presence is Presence.AVAILABLE]
    free = {ch: sum(free_capacity(a, ch) for a in available) for ch in channels}
    occupancy = {}
    for ch in channels:
        cap = sum(effective_capacity(a, ch) for a in agents if a.presence is not Presence.OFFLINE)
        load = sum(a.load.get(ch, 0) for a in agents if a.presence is not Presence.OFFLINE)
        occupancy[ch] = round(100.0 * load / cap, 1) if cap else 0.0
    return {"eligible_agents": len(agents), "available_agents": len(available),
            "agents_by_activity": dict(activity), "agents_by_reason": dict(reasons),
            "free_capacity": free, "occupancy_pct": occupancy}


def _task_numbers(tasks: list[TaskRecord], now: float) -> dict[str, Any]:
    states = Counter(t.state for t in tasks)
    waiting = [t for t in tasks if t.state is TaskState.PENDING]
    oldest = min(waiting, key=lambda t: (t.task.created, t.seq), default=None)
    return {"waiting": states[TaskState.PENDING], "reserved": states[TaskState.RESERVED],
            "assigned": states[TaskState.ASSIGNED], "wrapping": states[TaskState.WRAPPING],
            "longest_waiting_age": max(0.0, now - oldest.task.created) if oldest else 0.0,
            "longest_waiting_task": oldest.id if oldest else None,
            "waiting_by_priority": dict(sorted(Counter(t.task.priority for t in waiting).items(), reverse=True))}


AT_RISK = 0.8


def _sla_numbers(tasks: list[TaskRecord], now: float, queues: Mapping[str, QueueConfig]) -> dict[str, int]:
    at_risk = breached = 0
    default = queues.get("default") or QueueConfig()
    for record in tasks:
        if record.state not in (TaskState.PENDING, TaskState.RESERVED):
            continue
        task = record.task
        deadline = task.sla_deadline or task.created + (queues.get(task.queue) or default).service_level_seconds
        allowed = max(deadline - task.created, 1e-9)
        if now >= deadline:
            breached += 1
        elif now - task.created >= AT_RISK * allowed:
            at_risk += 1
    return {"sla_at_risk": at_risk, "sla_breached": breached}


def _counter_numbers(counters: Mapping[str, float], prefix: str) -> dict[str, Any]:
    def get(metric: str) -> float:
        return counters.get(f"{prefix}:{metric}", 0)

    assigned = int(get("assigned"))
    return {"entered_today": int(get("entered")), "assigned_today": assigned,
            "abandoned_today": int(get("abandoned")), "completed_today": int(get("completed")),
            "service_level_pct": round(100.0 * get("sl_met") / assigned, 1) if assigned else None,
            "avg_time_to_accept": round(get("accept_sum") / assigned, 3) if assigned else None,
            "max_time_to_accept": get("accept_max") if assigned else None,
            "rejected_today": int(get("rejected")), "timed_out_today": int(get("timeout")),
            "rescinded_today": int(get("rescinded"))}


def compute_stats(snap: Snapshot, queues: Mapping[str, QueueConfig]) -> dict[str, QueueStats]:
    """Stats keyed "queue:<name>" and "channel:<name>"."""
    channels = sorted({ch for a in snap.agents for ch in a.agent.capacity} | {t.task.channel for t in snap.tasks})
    out: dict[str, QueueStats] = {}
    for name in sorted(set(queues) | {t.task.queue for t in snap.tasks}):
        agents = [a for a in snap.agents if not a.agent.queues or name in a.agent.queues]
        tasks = [t for t in snap.tasks if t.task.queue == name]
        out[f"queue:{name}"] = QueueStats(name, "queue", **_task_numbers(tasks, snap.at),
                                          **_sla_numbers(tasks, snap.at, queues),
                                          **_agent_numbers(agents, channels),
                                          **_counter_numbers(snap.counters, f"q:{name}"))
    for ch in channels:
        agents = [a for a in snap.agents if a.agent.capacity.get(ch, 0) > 0]
        tasks = [t for t in snap.tasks if t.task.channel == ch]
        out[f"channel:{ch}"] = QueueStats(ch, "channel", **_task_numbers(tasks, snap.at),
                                          **_sla_numbers(tasks, snap.at, queues),
                                          **_agent_numbers(agents, [ch]),
                                          **_counter_numbers(snap.counters, f"c:{ch}"))
    return out
