"""Values crm_store takes and returns; plain data, independent of channels and HTTP."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    OPERATOR = "operator"
    MANAGER = "manager"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def sees_everything(self) -> bool:
        return self in (Role.SUPERVISOR, Role.ADMIN)


class LeadStatus(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WON = "won"
    LOST = "lost"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset({LeadStatus.NEW, LeadStatus.ASSIGNED, LeadStatus.IN_PROGRESS})
CLOSED_STATUSES = (LeadStatus.WON, LeadStatus.LOST, LeadStatus.CLOSED)


class LeadOutcome(StrEnum):
    """Why a lead left the pipeline; kept for source-effectiveness reports."""

    WON = "won"
    LOST = "lost"
    HANDED_OVER = "handed_over"
    RESOLVED = "resolved"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"   # notes and system events on the timeline


@dataclass(frozen=True, slots=True)
class Claim:
    """A normalized identity an inbound event carries, with how strongly it binds."""

    kind: str
    value: str
    strong: bool
    confidence: str


@dataclass(frozen=True, slots=True)
class RoutingHint:
    """Where the lead's routing task goes if the event leaves the lead with nobody working it."""

    queue: str
    channel: str           # the capacity the work takes: voice / chat / email


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """One inbound event to persist: joins or creates the contact and the lead, exactly once."""

    channel: str
    event_id: str
    received_at: datetime
    claims: tuple[Claim, ...] = ()
    primary_kind: str | None = None        # the claim the channel itself proves, preferred on conflicts
    name: str | None = None
    text: str = ""
    subject: str | None = None
    thread_ref: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    source: Mapping[str, str] = field(default_factory=dict)
    priority: int = 0
    direction: str = Direction.INBOUND
    lead_hint: int | None = None           # a lead the message names itself; honoured for its own client
    routing: RoutingHint | None = None     # None: this event never needs routing (e.g. staff-entered)
    pipeline: str | None = None            # the funnel a new lead enters (its key); None: the first


@dataclass(frozen=True, slots=True)
class IngestResult:
    lead_id: int
    contact_id: int
    interaction_id: int
    created_lead: bool
    created_contact: bool
    duplicate: bool = False
    reopened: bool = False
    merge_suggestion_ids: tuple[int, ...] = ()
    lead_status: str = LeadStatus.NEW
    owner_id: int | None = None
    assignee_id: int | None = None
    priority: int = 0
    task_id: str | None = None      # the routing task this event created, committed with it
    task_queue: str | None = None
    task_channel: str | None = None


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: enough to apply visibility and edit rules without another query."""

    user_id: int
    role: Role
    team_id: int | None


@dataclass(frozen=True, slots=True)
class Permissions:
    """Which roles may change records that are not their own: a per-installation setting."""

    edit_others: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.ADMIN})
    delete: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.ADMIN})
    delete_others: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.ADMIN})
    assign: frozenset[Role] = frozenset({Role.MANAGER, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class LeadChanges:
    """A PATCH of a lead; None leaves a field as it is."""

    status: LeadStatus | None = None
    notes: str | None = None
    assignee_id: int | None = None
    unassign: bool = False
    outcome: LeadOutcome | None = None
    lost_reason: str | None = None
    handed_over_to: str | None = None
    priority: int | None = None
    subject: str | None = None
    fields: Mapping[str, Any] | None = None        # custom field values (crm_store.fields checks them)
    required_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)   # status -> fields it needs filled
    pipeline_id: int | None = None
    stage_id: int | None = None
    amount: int | None = None                      # minor units of `currency`
    currency: str | None = None
    close_date: date | None = None
    lost_reason_code: str | None = None
    cleared: frozenset[str] = frozenset()          # of amount, currency, close_date: set to nothing


@dataclass(frozen=True, slots=True)
class LeadFilter:
    status: tuple[LeadStatus, ...] = ()
    channel: tuple[str, ...] = ()
    assignee_id: int | None = None
    unassigned: bool = False
    pool: bool = False              # open leads nobody has taken that the viewer may take
    q: str | None = None
    q_phone: str | None = None      # `q` read as a phone number in E.164, when it is one
    q_email: str | None = None      # `q` read as an e-mail address, when it is one
    limit: int = 50
    offset: int = 0
    before: tuple[datetime, int] | None = None   # the next page: after this (last activity, id), newest first
