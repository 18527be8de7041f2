"""Routing: pure decisions over small types plus a state backend (in process, or Redis for many).

    engine = RoutingEngine(MemoryBackend(), {"default": QueueConfig()}, clock=time.time)
    out = await engine.add_task(Task("lead-1", "chat", priority=1, owner="ivan", created=time.time()))
    for event in out.events:            # OfferCreated, OfferCancelled, TaskAssigned, TaskChanged, PresenceChanged
        push(event.type, event)         # "offer.created", "offer.cancelled", "lead.assigned", ...
    at = await engine.next_deadline()   # call engine.expire_due() then (loop.call_at)

Every call returns an `RoutingOutcome` (events + decisions). Queue order, tie-breaks and aging:
see routing.ordering; selection rules and skip reasons: routing.policies.
"""
from routing.backends import RoutingBackend
from routing.backends.memory import MemoryBackend
from routing.engine import RoutingEngine
from routing.events import (
    Decision,
    Event,
    InvalidState,
    NotFound,
    NotYourOffer,
    OfferCancelled,
    OfferCreated,
    OfferNotPending,
    RoutingOutcome,
    PresenceChanged,
    RoutingError,
    TaskAssigned,
    TaskChanged,
)
from routing.hours import WeeklyHours
from routing.stats import QueueStats
from routing.types import (
    Agent,
    AgentState,
    Assignment,
    Escalation,
    Fairness,
    Offer,
    OfferStatus,
    Policy,
    Presence,
    PriorityGate,
    QueueConfig,
    Skip,
    Task,
    TaskRecord,
    TaskState,
)

__all__ = [
    "Agent", "AgentState", "Assignment", "Decision", "Escalation", "Event", "Fairness", "InvalidState",
    "MemoryBackend", "NotFound", "NotYourOffer", "Offer", "OfferCancelled", "OfferCreated", "OfferNotPending",
    "OfferStatus", "RoutingOutcome", "Policy", "Presence", "PresenceChanged", "PriorityGate", "QueueConfig", "QueueStats",
    "RoutingBackend", "RoutingEngine", "RoutingError", "Skip", "Task", "TaskAssigned", "TaskChanged", "TaskRecord",
    "TaskState", "WeeklyHours",
]
