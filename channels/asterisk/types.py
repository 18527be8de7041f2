"""Normalized call progress, keyed by the call's Linkedid: what the voice adapter tells the gateway."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"            # rang, nobody answered (direct and ring-group calls)
    ABANDONED = "abandoned"      # the caller gave up waiting in a queue
    FAILED = "failed"            # an origination that never reached the operator's phone
    NO_ANSWER = "no_answer"      # an outbound call the client did not pick up


class StopReason(StrEnum):
    """Why a phone stopped ringing without being answered (the pop is retracted)."""
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    ANSWERED_ELSEWHERE = "answered_elsewhere"
    CALLER_HUNG_UP = "caller_hung_up"
    TRANSFER_CANCELLED = "transfer_cancelled"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_id: str
    at: datetime
    direction: Direction
    caller: str | None           # E.164 when it reads as a phone number, else as the PBX gave it; None if anonymous
    caller_name: str | None
    did: str | None              # the number / extension the caller dialled
    queue: str | None
    extension: str | None = None  # outbound: the operator's extension that placed the call
    lead_id: int | None = None   # outbound click-to-call: the lead it was placed from
    origin_wait_seconds: float = 0.0  # how long the call had been up when we first saw it (after a restart)


@dataclass(frozen=True, slots=True)
class CallRinging:
    call_id: str
    at: datetime
    extension: str
    queue: str | None
    transfer_from: str | None = None   # set when the ring is a transfer (blind or attended consultation)


@dataclass(frozen=True, slots=True)
class RingStopped:
    call_id: str
    at: datetime
    extension: str
    reason: StopReason


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call_id: str
    at: datetime
    extension: str
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class CallTransferred:
    call_id: str
    at: datetime
    from_extension: str | None
    to_extension: str
    kind: str                    # "blind" | "attended"


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    call_id: str
    at: datetime
    queue: str | None
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class LegRecord:
    """One operator's part in a call: how long the client waited for them and talked with them."""
    extension: str
    answered: bool               # the client was connected to this operator (a consultation alone is not)
    wait_seconds: float          # the client's wait: until this operator was connected, or until the ring stopped
    talk_seconds: float          # connected to the client: from answer (or the transfer) until it left them
    transfer_from: str | None = None    # rung as a transfer (blind or attended) from this extension
    transferred_to: str | None = None   # the call left this operator by a transfer to that extension


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    at: datetime
    direction: Direction
    outcome: CallOutcome
    wait_seconds: float
    talk_seconds: float
    cause: int | None
    cause_text: str | None
    recording: str | None
    answered_by: str | None
    rang: tuple[str, ...]
    queue: str | None
    caller: str | None
    # Added for transfers and per-operator time (talk_seconds above is the sum of the legs' talk):
    legs: tuple[LegRecord, ...] = ()
    # The extensions the call still belonged to when it ended (the operator holding it, or, unanswered, the
    # phones that rang for it): a screen the call left by a transfer was told then, and is not told again.
    holders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberPaused:
    """A queue member paused or resumed, whoever did it (Switchboard or the phone/PBX)."""
    extension: str
    queue: str | None
    paused: bool
    reason: str | None


CallEvent = CallStarted | CallRinging | RingStopped | CallAnswered | CallTransferred | CallAbandoned | CallEnded | MemberPaused
