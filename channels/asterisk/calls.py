"""What the tracker knows about one call while it lasts, and the summary it leaves when it ends."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from channels.asterisk.types import CallEnded, CallOutcome, Direction, LegRecord


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
    consult: bool = False        # rung for an attended transfer's consultation: the client is not theirs yet
    announced: bool = True       # its ring was reported (a call placed from outside is reported once it dials)
    rang_at: datetime | None = None
    connected_at: datetime | None = None   # the client was put through to this operator
    left_at: datetime | None = None        # the client left them (transfer or hangup)
    transferred_to: str | None = None
    talk_override: float | None = None     # the queue's own TalkTime for this member (AgentComplete)

    def talk_seconds(self, now: datetime) -> float:
        if self.talk_override is not None:
            return self.talk_override
        if self.connected_at is None:
            return 0.0
        return max(0.0, ((self.left_at or now) - self.connected_at).total_seconds())

    def leave(self, at: datetime) -> None:
        self.left_at = self.left_at or at


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
    answered_leg: Leg | None = None
    answered_at: datetime | None = None
    transfer_from: str | None = None
    client_legs: set[str] = field(default_factory=set)    # outbound: the dials towards the client
    client_answered: bool = False
    recording: str | None = None
    cause: int | None = None
    cause_text: str | None = None
    wait_override: float | None = None    # the queue's own HoldTime, better than our clock after a replay
    adopted_seconds: float = 0.0

    def seconds_since_open(self, now: datetime) -> float:
        return max(0.0, (now - self.opened).total_seconds())

    def distinct_legs(self) -> list[Leg]:
        """Each leg once (a phone reached through a Local channel is listed under both channels' ids)."""
        return list({id(leg): leg for leg in self.legs.values()}.values())

    def holder(self) -> Leg | None:
        """The operator the client is with now: answered, not a consultation, not left."""
        return next((leg for leg in self.distinct_legs() if leg.state is LegState.ANSWERED and not leg.consult
                     and leg.left_at is None and leg.transferred_to is None), None)


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
    legs = [_record(leg, call, now, wait) for leg in call.distinct_legs()]
    talk = sum(leg.talk_seconds for leg in legs if leg.answered)
    return CallEnded(call.call_id, now, call.direction, outcome_of(call), round(max(wait, 0.0), 3),
                     round(max(talk, 0.0), 3), call.cause, call.cause_text, call.recording, call.answered_by,
                     tuple(call.rang), call.queue, call.caller, tuple(legs), _holders(call))


def _record(leg: Leg, call: Call, now: datetime, call_wait: float) -> LegRecord:
    answered = leg.connected_at is not None or leg.talk_override is not None
    first = answered and leg.transfer_from is None
    until = leg.connected_at or leg.left_at or now
    wait = call_wait if first else ((until - leg.rang_at).total_seconds() if leg.rang_at else 0.0)
    return LegRecord(leg.extension, answered, round(max(wait, 0.0), 3), round(leg.talk_seconds(now), 3),
                     leg.transfer_from, leg.transferred_to)


def _holders(call: Call) -> tuple[str, ...]:
    last = call.answered_leg
    if last is not None:
        return () if last.transferred_to else (last.extension,)
    return tuple(dict.fromkeys(leg.extension for leg in call.distinct_legs() if not leg.consult))
