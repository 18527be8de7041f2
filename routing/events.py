"""What routing tells the outside: decisions (explanations), events, outcomes and errors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from routing.types import Assignment, Offer, Policy, Presence, Skip, TaskState


@dataclass(frozen=True, slots=True)
class Candidate:
    """An eligible agent and its policy score (lower sorts first)."""

    agent_id: str
    score: tuple[float | str, ...]


@dataclass(frozen=True, slots=True)
class Skipped:
    """An agent left out, and why."""

    agent_id: str
    reason: Skip
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """Why a task went (or did not go) to whom."""

    task_id: str
    queue: str
    policy: Policy
    at: float
    chosen: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    skipped: tuple[Skipped, ...]
    note: str = ""
    round: int = 1  # the task's offer round (see TaskRecord.round)

    def reasons(self) -> dict[str, Skip]:
        """Skip reason per agent id."""
        return {s.agent_id: s.reason for s in self.skipped}


@dataclass(frozen=True, slots=True)
class OfferCreated:
    """An agent was offered a task."""

    type: ClassVar[str] = "offer.created"
    offer: Offer


@dataclass(frozen=True, slots=True)
class OfferCancelled:
    """An offer ended without an accept: `offer.status` says how."""

    type: ClassVar[str] = "offer.cancelled"
    offer: Offer


@dataclass(frozen=True, slots=True)
class TaskAssigned:
    """An agent accepted a task."""

    type: ClassVar[str] = "lead.assigned"
    assignment: Assignment


@dataclass(frozen=True, slots=True)
class TaskChanged:
    """A task moved to wrapping, completed or canceled (or back to pending)."""

    type: ClassVar[str] = "task.changed"
    task_id: str
    state: TaskState
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """An agent's presence changed (by the agent or by routing)."""

    type: ClassVar[str] = "presence.changed"
    agent_id: str
    presence: Presence
    reason: str | None = None


Event = OfferCreated | OfferCancelled | TaskAssigned | TaskChanged | PresenceChanged


@dataclass(frozen=True, slots=True)
class RoutingOutcome:
    """Everything one engine call caused."""

    events: tuple[Event, ...] = ()
    decisions: tuple[Decision, ...] = ()

    @property
    def offers(self) -> list[Offer]:
        """Offers created."""
        return [e.offer for e in self.events if isinstance(e, OfferCreated)]

    @property
    def cancelled(self) -> list[Offer]:
        """Offers that ended without an accept."""
        return [e.offer for e in self.events if isinstance(e, OfferCancelled)]

    @property
    def assignment(self) -> Assignment | None:
        """The assignment made, if any."""
        return next((e.assignment for e in self.events if isinstance(e, TaskAssigned)), None)


class RoutingError(Exception):
    """A request routing cannot honour."""


class NotFound(RoutingError):
    """No such offer, task or agent."""


class OfferNotPending(RoutingError):
    """The offer was already accepted, rejected, timed out or rescinded."""


class NotYourOffer(RoutingError):
    """The offer belongs to another agent."""


class InvalidState(RoutingError):
    """The task is not in a state that allows this."""


class TaskExists(RoutingError):
    """Routing holds a task of that id already (or, re-added from the database, finished it lately)."""
