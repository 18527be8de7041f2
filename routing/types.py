"""Routing values: agents, tasks, offers, queue configuration, decisions and events."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from routing.hours import WeeklyHours
from vocabulary.channels import VOICE
DEFAULT_CAPACITY: Mapping[str, int] = MappingProxyType({"voice": 1, "chat": 4, "email": 8})


class Presence(StrEnum):
    """What the agent chose; `on_call` and `wrap_up` are derived from the load (see `activity`)."""

    AVAILABLE = "available"
    BREAK = "break"
    LUNCH = "lunch"
    TRAINING = "training"
    OFFLINE = "offline"


class Policy(StrEnum):
    """How a queue picks among eligible agents."""

    LONGEST_IDLE = "longest_idle"
    LEAST_LOADED = "least_loaded"
    HIGHEST_SKILL = "highest_skill"
    ROUND_ROBIN = "round_robin"
    FIXED_ORDER = "fixed_order"


class TaskState(StrEnum):
    """pending -> reserved -> assigned -> wrapping -> completed, or canceled."""

    PENDING = "pending"
    RESERVED = "reserved"
    ASSIGNED = "assigned"
    WRAPPING = "wrapping"
    COMPLETED = "completed"
    CANCELED = "canceled"


class OfferStatus(StrEnum):
    """pending -> accepted / rejected / timeout / rescinded."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    RESCINDED = "rescinded"


class Skip(StrEnum):
    """Why an agent was not a candidate for a task."""

    OFFLINE = "offline"
    ON_BREAK = "on_break"
    AT_CAPACITY = "at_capacity"
    WRAP_UP = "wrap_up"
    NO_CHANNEL = "no_channel"
    MISSING_SKILL = "missing_skill"
    SKILL_GATE = "skill_gate"
    OUTSIDE_HOURS = "outside_hours"
    FAIRNESS_CAP = "fairness_cap"
    NOT_OWNER_YET = "not_owner_yet"
    NOT_IN_TEAM_YET = "not_in_team_yet"
    NOT_IN_QUEUE = "not_in_queue"
    DECLINED = "declined"


MISSED_OFFERS = "missed_offers"


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent's configuration; runtime state lives in `AgentState`."""

    id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    team: str | None = None
    capacity: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    # Capacity of other channels while a call is live, e.g. {"chat": 1}; missing means unchanged.
    on_call_capacity: Mapping[str, int] = field(default_factory=dict)
    queues: frozenset[str] = frozenset()  # empty: every queue
    hours: WeeklyHours | None = None


@dataclass(frozen=True, slots=True)
class AgentState:
    """An agent with its presence and load, as the backend holds it."""

    agent: Agent
    presence: Presence = Presence.OFFLINE
    reason: str | None = None
    load: Mapping[str, int] = field(default_factory=dict)  # pending offers + assigned tasks per channel
    wrapping: int = 0  # voice tasks in wrap-up
    missed: int = 0  # offers missed in a row
    last_busy: float = 0.0  # last accept or release: longest idle orders by this
    rr: int = 0  # sequence number of the last offer: round robin orders by this
    recent: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # queue -> accept times

    @property
    def id(self) -> str:
        """The agent id."""
        return self.agent.id

    @property
    def activity(self) -> str:
        """Presence, or the derived `on_call` / `wrap_up` while routable."""
        if self.load.get(VOICE, 0) > 0:
            return "on_call"
        if self.wrapping:
            return "wrap_up"
        return self.presence.value


@dataclass(frozen=True, slots=True)
class Task:
    """A unit of work to route."""

    id: str
    channel: str
    priority: int = 0
    required_skills: Mapping[str, int] = field(default_factory=dict)
    queue: str = "default"
    team: str | None = None
    owner: str | None = None  # the client's pinned manager
    created: float = 0.0
    sla_deadline: float | None = None


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task with its routing state."""

    task: Task
    state: TaskState = TaskState.PENDING
    seq: int = 0  # arrival order: the last tie-break
    score: float = 0.0  # queue order, lower first (see ordering.queue_score)
    agent_id: str | None = None
    offers: int = 0  # pending offers
    declined: frozenset[str] = frozenset()  # agents who declined or missed it in this round
    assigned_at: float | None = None
    round: int = 1  # offer rounds: a new one clears `declined` once only those agents are left
    declined_at: float = 0.0  # the last decline or miss: the next round waits `round_pause_seconds` from it

    @property
    def id(self) -> str:
        """The task id."""
        return self.task.id


@dataclass(frozen=True, slots=True)
class Offer:
    """A reservation of a task for one agent, with a timeout."""

    id: str
    task_id: str
    agent_id: str
    channel: str
    queue: str
    created: float
    expires: float
    status: OfferStatus = OfferStatus.PENDING


@dataclass(frozen=True, slots=True)
class Assignment:
    """A task accepted by an agent."""

    task_id: str
    agent_id: str
    offer_id: str
    channel: str
    queue: str
    assigned_at: float


@dataclass(frozen=True, slots=True)
class Fairness:
    """At most `max_assignments` per agent in this queue per `period_seconds`."""

    max_assignments: int
    period_seconds: float


@dataclass(frozen=True, slots=True)
class PriorityGate:
    """Tasks with priority >= `min_priority` go only to agents with `skill` >= `min_level`."""

    min_priority: int
    skill: str
    min_level: int


@dataclass(frozen=True, slots=True)
class Escalation:
    """After `after_seconds` of waiting the task is also eligible to `teams` (None: everyone)."""

    after_seconds: float
    teams: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """Per-queue routing rules."""

    policy: Policy = Policy.LONGEST_IDLE
    broadcast: int = 1  # offer to this many agents at once; first accept wins
    offer_timeout: float = 20.0
    aging_seconds: float | None = 60.0  # effective priority +1 per this many seconds waited
    owner_wait_seconds: float = 30.0
    fairness: Fairness | None = None
    priority_gate: PriorityGate | None = None
    escalation: tuple[Escalation, ...] = ()
    service_level_seconds: float = 20.0
    fixed_order: tuple[str, ...] = ()
    wrap_up_seconds: float = 0.0  # after a voice task, before the next call
    # Once every agent who could take a task has declined or missed it, a new round offers it to them again
    # (as app_queue rings its members again after `retry`): this long after the last decline, so a lone
    # agent who said no is not asked again at once.
    round_pause_seconds: float = 5.0
