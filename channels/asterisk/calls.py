"""What the tracker knows about one call while it lasts, and the summary it leaves when it ends."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from channels.asterisk.types import CallEnded, Direction, CallOutcome


class LegState(Enum):
    RINGING = "ringing"
    ANSWERED = "answered"
    GONE = "gone"


@dataclass(slots=True)
class Leg:
    """One phone this call rang: a queue member's or a dialled extension's channel."""
    uniqueid: str
    channel: str
    extension: str
    state: LegState = LegState.RINGING
    transfer_from: str | None = None
    connects: bool = True        # False for the operator's own phone in a click-to-call: answering it is not talking yet


@dataclass(slots=True)
class Call:
    call_id: str                 # the Linkedid
    root: str                    # Uniqueid of the caller's channel
    opened: datetime
    direction: Direction = Direction.INBOUND
    did: str | None = None
    queue: str | None = None
    caller: str | None = None
    caller_name: str | None = None
    origin_extension: str | None = None
    lead_id: int | None = None
    originated: bool = False     # placed by our own Originate (click-to-call)
    internal: bool = False       # phone to phone, so far: no lead, no pop
    consult_of: str | None = None  # an attended transfer's consultation: its rings pop the client's card
    absorbed: bool = False
    started: bool = False
    abandoned: bool = False
    channels: set[str] = field(default_factory=set)
    legs: dict[str, Leg] = field(default_factory=dict)
    rang: list[str] = field(default_factory=list)
    answered_by: str | None = None
    answered_at: datetime | None = None
    transfer_from: str | None = None
    client_leg: str | None = None
    client_answered: bool = False
    recording: str | None = None
    cause: int | None = None
    cause_text: str | None = None
    wait_override: float | None = None    # the queue's own HoldTime, better than our clock after a replay
    talk_override: float | None = None
    adopted_seconds: float = 0.0

    def seconds_since_open(self, now: datetime) -> float:
        return max(0.0, (now - self.opened).total_seconds())


@dataclass(frozen=True, slots=True)
class Origination:
    """A click-to-call we asked for: its call id is the ChannelId we gave Asterisk."""
    extension: str
    number: str
    lead_id: int | None


@dataclass(slots=True)
class TrackedChannel:
    """A channel of a tracked call: the call it belongs to and the caller id it last showed."""
    uniqueid: str
    name: str
    call_id: str
    caller: str | None = None
    caller_name: str | None = None
    exten: str | None = None


def outcome_of(call: Call) -> CallOutcome:
    if call.direction is Direction.OUTBOUND:
        if call.answered_by is None:
            return CallOutcome.FAILED
        return CallOutcome.ANSWERED if call.client_answered else CallOutcome.NO_ANSWER
    if call.answered_by is not None:
        return CallOutcome.ANSWERED
    return CallOutcome.ABANDONED if call.abandoned else CallOutcome.MISSED


def ended_event(call: Call, now: datetime) -> CallEnded:
    talking_since = call.answered_at
    wait = call.wait_override
    if wait is None:
        wait = (talking_since - call.opened).total_seconds() if talking_since else call.seconds_since_open(now)
    talk = call.talk_override
    if talk is None:
        talk = (now - talking_since).total_seconds() if talking_since else 0.0
    return CallEnded(call.call_id, now, call.direction, outcome_of(call), round(max(wait, 0.0), 3),
                     round(max(talk, 0.0), 3), call.cause, call.cause_text, call.recording, call.answered_by,
                     tuple(call.rang), call.queue, call.caller)
