"""The call state machine: raw AMI events in, normalized call progress out.

Built on the sequences a real Asterisk 22 sends (the recordings in simulators/pbx/recordings): every channel of a call shares the
caller's Linkedid; the channel whose Uniqueid *is* the Linkedid is the caller (for an originated Local
channel, its ;1 half); phones ringing are the destinations of `AgentCalled` / `DialBegin` that map to
an extension. Queue calls report each ring twice (AgentCalled and DialBegin), so rings are keyed by
the leg's Uniqueid and reported once; a phone reached through a Local channel rings once per extension.
A ring for another phone while an operator has the client is an attended transfer's consultation
(Asterisk keeps the client's Linkedid on it): it pops the colleague with `transfer_from`, and the call
becomes theirs only when AttendedTransfer completes (transfers.py). Calls opened by an Originate, ours
or another tool's, are in outbound.py.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from channels.asterisk import queues
from channels.asterisk.calls import Call, Leg, LegState, Origination, TrackedChannel, ended_event
from channels.asterisk.outbound import dial_out, originate_dial
from channels.asterisk.devices import caller_number, extension_of, looks_like_extension
from channels.asterisk.fields import as_int as _int, as_name as _name
from channels.asterisk.reconcile import member_paused, reconcile
from channels.asterisk.transfers import on_attended_transfer, on_blind_transfer
from channels.asterisk.types import (
    CallAnswered, CallEvent, CallRinging, CallStarted, Direction, RingStopped, StopReason,
)
from channels.identity import InvalidIdentity, normalize_phone

Event = Mapping[str, str]

_DIAL_STOPS = {"NOANSWER": StopReason.NO_ANSWER, "BUSY": StopReason.BUSY, "CONGESTION": StopReason.UNAVAILABLE,
               "CHANUNAVAIL": StopReason.UNAVAILABLE, "CANCEL": StopReason.CALLER_HUNG_UP}
RECORDING_VARIABLES = ("MIXMONITOR_FILENAME", "SWITCHBOARD_RECORDING")
LEAD_VARIABLE = "SWITCHBOARD_LEAD"


@dataclass(slots=True)
class CallTracker:
    """Feed it every AMI event; it returns what happened to calls, in order. Never raises on odd input."""

    region: str | None = None
    is_agent: Callable[[str], bool] = looks_like_extension
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    calls: dict[str, Call] = field(default_factory=dict)
    _channels: dict[str, TrackedChannel] = field(default_factory=dict)
    _originations: dict[str, Origination] = field(default_factory=dict)
    _hung_up: set[str] | None = None      # hangups seen while a reconciliation is under way

    def expect_origination(self, call_id: str, origination: Origination) -> None:
        self._originations[call_id] = origination

    def feed(self, event: Event) -> list[CallEvent]:
        handler = _HANDLERS.get(event.get("Event", ""))
        if handler is None:
            return []
        out: list[CallEvent] = []
        handler(self, event, out)
        return out

    # -- channels ---------------------------------------------------------------------------------

    def _on_newchannel(self, ev: Event, out: list[CallEvent]) -> None:
        uniqueid, linkedid, name = ev.get("Uniqueid", ""), ev.get("Linkedid", ""), ev.get("Channel", "")
        if not uniqueid or not linkedid:
            return
        call = self.calls.get(linkedid)
        if call is None:
            call = self._new_call(linkedid, name, ev)
        channel = TrackedChannel(uniqueid, name, call.call_id, caller_number(ev.get("CallerIDNum")),
                           _name(ev.get("CallerIDName")), ev.get("Exten"))
        self._channels[uniqueid] = channel
        call.channels.add(uniqueid)

    def _new_call(self, linkedid: str, root_name: str, ev: Event) -> Call:
        call = Call(call_id=linkedid, root=linkedid, opened=self.clock(), did=ev.get("Exten") or None)
        origination = self._originations.pop(linkedid, None)
        root_extension = extension_of(root_name)
        if origination is not None:
            call.direction, call.origin_extension, call.originated = Direction.OUTBOUND, origination.extension, True
            call.caller, call.lead_id = self.e164(origination.number), origination.lead_id
        elif root_extension and self.is_agent(root_extension):
            call.direction, call.origin_extension = Direction.OUTBOUND, root_extension
            call.internal = True          # until it dials out, or turns out to be a transfer consultation
            consulting = None if root_name.startswith("Local/") else self._answered_call_of(root_extension)
            if consulting is not None:      # a desk phone's own second line (its transfer key): see transfers.py
                call.consult_of = consulting.call_id
        self.calls[linkedid] = call
        return call

    def _on_caller_update(self, ev: Event, out: list[CallEvent]) -> None:
        channel = self._channels.get(ev.get("Uniqueid", ""))
        if channel is None:
            return
        channel.caller = caller_number(ev.get("CallerIDNum")) or channel.caller
        channel.caller_name = _name(ev.get("CallerIDName")) or channel.caller_name

    def _on_varset(self, ev: Event, out: list[CallEvent]) -> None:
        call = self.call_of(ev)
        if call is None or not ev.get("Value"):
            return
        if ev.get("Variable") in RECORDING_VARIABLES:
            call.recording = ev["Value"]
        elif ev.get("Variable") == LEAD_VARIABLE and not call.started:
            call.lead_id = call.lead_id or _int(ev["Value"])   # our click-to-call, sent by another process

    def _on_hangup(self, ev: Event, out: list[CallEvent]) -> None:
        channel = self._channels.pop(ev.get("Uniqueid", ""), None)
        if self._hung_up is not None:
            self._hung_up.add(ev.get("Uniqueid", ""))
        if channel is None:
            return
        call = self.calls.get(channel.call_id)
        if call is None:
            return
        call.channels.discard(channel.uniqueid)
        if channel.uniqueid == call.root or not call.cause:
            call.cause, call.cause_text = _int(ev.get("Cause")), ev.get("Cause-txt") or None
        leg = call.legs.get(channel.uniqueid)
        also = [uid for uid, other in call.legs.items() if other is leg and uid in self._channels]
        if leg is not None and also:
            # One of two channels of the same phone (a Local channel in front of it, optimised away): the leg
            # goes on with the other.
            del call.legs[channel.uniqueid]
            leg.uniqueid = also[0]
        elif leg is not None:
            self.leg_gone(call, leg, StopReason.NO_ANSWER if _int(ev.get("Cause")) in (18, 19) else None, out)
            leg.leave(self.clock())
        if not call.channels:
            self._finish(call, out)

    def _on_member_pause(self, ev: Event, out: list[CallEvent]) -> None:
        paused = member_paused(ev)
        if paused is not None:
            out.append(paused)

    # -- dials ------------------------------------------------------------------------------------

    def _on_dial_begin(self, ev: Event, out: list[CallEvent]) -> None:
        dest_id, dest_name = ev.get("DestUniqueid", ""), ev.get("DestChannel", "")
        call = self.calls.get(ev.get("DestLinkedid", "")) or self.call_of(ev)
        if call is None or not dest_id:
            return
        extension = extension_of(dest_name)
        to_agent = bool(extension) and self.is_agent(extension or "")
        if not ev.get("Channel"):
            # An Originate's own dial to its first channel carries no caller fields (outbound.py).
            if to_agent and extension:
                originate_dial(self, call, ev, extension, out)
            return
        placed_by_us = call.direction is Direction.OUTBOUND and not call.internal
        if to_agent and extension and not placed_by_us:
            self.remember_caller(call, ev)
            self.ring(call, dest_id, dest_name, extension, out)
            return
        if call.internal and not to_agent:
            dial_out(self, call, ev, out)      # an operator's leg dialled a client: an outbound call
        if call.direction is Direction.OUTBOUND and not to_agent:
            call.client_legs.add(dest_id)

    def _on_dial_state(self, ev: Event, out: list[CallEvent]) -> None:
        if ev.get("DialStatus") != "RINGING":
            return
        call = self.call_of(ev) or self.calls.get(ev.get("DestLinkedid", ""))
        dest_name = ev.get("DestChannel", "")
        extension = extension_of(dest_name)
        if call is not None and ev.get("Channel") and extension and self.is_agent(extension):
            self.ring(call, ev.get("DestUniqueid") or dest_name, dest_name, extension, out)

    def _on_dial_end(self, ev: Event, out: list[CallEvent]) -> None:
        call = self.calls.get(ev.get("DestLinkedid", "")) or self.call_of(ev)
        if call is None:
            return
        dest_id = ev.get("DestUniqueid") or ev.get("DestChannel", "")
        status = ev.get("DialStatus", "")
        if dest_id in call.client_legs:
            if status == "ANSWER" and not call.client_answered:
                call.client_answered = True
                now = self.clock()
                call.answered_at = call.answered_at or now
                for leg in call.distinct_legs():      # the operator who placed it starts talking now
                    if leg.state is LegState.ANSWERED and leg.connected_at is None and not leg.consult:
                        leg.connected_at = now
            return
        leg = call.legs.get(dest_id)
        if leg is None:
            return
        if status == "ANSWER":
            self.answer_leg(call, leg, out)
        elif status in _DIAL_STOPS:
            self.leg_gone(call, leg, _DIAL_STOPS[status], out)

    def _on_bridge_enter(self, ev: Event, out: list[CallEvent]) -> None:
        call = self.call_of(ev)
        leg = call and call.legs.get(ev.get("Uniqueid", ""))
        if call is not None and leg is not None and leg.state is LegState.RINGING:
            self.answer_leg(call, leg, out)

    # -- the moves --------------------------------------------------------------------------------

    def start(self, call: Call, out: list[CallEvent]) -> None:
        if call.started or call.internal:
            return
        call.started = True
        root = self._channels.get(call.root)
        if call.direction is Direction.INBOUND and root is not None:
            call.caller = call.caller or self.e164(root.caller)
            call.caller_name = call.caller_name or root.caller_name
        out.append(CallStarted(call.call_id, self.clock(), call.direction, call.caller, call.caller_name, call.did,
                               call.queue, call.origin_extension, call.lead_id, call.adopted_seconds))

    def ring(self, call: Call, leg_id: str, name: str, extension: str, out: list[CallEvent],
             connects: bool = True, announce: bool = True) -> None:
        if call.consult_of is not None:
            self._ring_second_line(call, leg_id, name, extension, out)
            return
        if (call.internal and announce) or leg_id in call.legs:
            return
        now = self.clock()
        same_phone = next((leg for leg in call.distinct_legs() if leg.extension == extension
                           and (leg.state is LegState.RINGING or leg.consult and leg.state is LegState.ANSWERED)), None)
        if same_phone is not None:
            call.legs[leg_id] = same_phone       # the phone behind a Local channel: one ring per extension
            return
        holder = call.holder()
        consult = holder is not None and holder.extension != extension
        transfer_from = holder.extension if consult and holder else (call.transfer_from if call.answered_by else None)
        leg = Leg(leg_id, name, extension, transfer_from=transfer_from, connects=connects, consult=consult,
                  announced=announce, rang_at=now)
        call.legs[leg_id] = leg
        if announce:
            self.announce(call, leg, out)

    def announce(self, call: Call, leg: Leg, out: list[CallEvent]) -> None:
        self.start(call, out)
        leg.announced = True
        if leg.extension not in call.rang:
            call.rang.append(leg.extension)
        out.append(CallRinging(call.call_id, self.clock(), leg.extension, call.queue, transfer_from=leg.transfer_from))

    def _ring_second_line(self, call: Call, leg_id: str, name: str, extension: str, out: list[CallEvent]) -> None:
        """A ring on a desk phone's own second line while its operator has a client: it pops the client's card."""
        target = self.calls.get(call.consult_of or "")
        if target is None or leg_id in call.legs:
            return
        call.legs[leg_id] = Leg(leg_id, name, extension, transfer_from=call.origin_extension, rang_at=self.clock())
        out.append(CallRinging(target.call_id, self.clock(), extension, target.queue,
                               transfer_from=call.origin_extension))
        if extension not in target.rang:
            target.rang.append(extension)

    def answer_leg(self, call: Call, leg: Leg, out: list[CallEvent], wait: float | None = None) -> None:
        if leg.state is not LegState.RINGING or call.internal:
            return       # (a call placed from outside is answered once it dials the client: outbound.py)
        leg.state = LegState.ANSWERED
        if call.consult_of is not None or leg.consult:
            return      # the colleague took the consultation; the client is theirs only once transferred
        now = self.clock()
        first = call.answered_by is None
        call.answered_by, call.answered_leg = leg.extension, leg
        if leg.connects or call.client_answered:
            call.answered_at = call.answered_at or now
            leg.connected_at = now
        if first and wait is not None:
            call.wait_override = wait
        out.append(CallAnswered(call.call_id, now, leg.extension,
                                wait if wait is not None else call.seconds_since_open(now)))
        for other in call.distinct_legs():
            if other is not leg and other.state is LegState.RINGING and not other.consult:
                other.state = LegState.GONE
                other.leave(now)
                out.append(RingStopped(call.call_id, now, other.extension, StopReason.ANSWERED_ELSEWHERE))

    def leg_gone(self, call: Call, leg: Leg, reason: StopReason | None, out: list[CallEvent]) -> None:
        before, leg.state = leg.state, LegState.GONE
        if call.consult_of is not None or leg.consult:
            # The colleague's phone in a consultation: until a transfer, leaving it means no transfer.
            target = self.calls.get(call.consult_of) if call.consult_of is not None else call
            if target is not None and before is not LegState.GONE:
                out.append(RingStopped(target.call_id, self.clock(), leg.extension, StopReason.TRANSFER_CANCELLED))
            return
        if before is not LegState.RINGING or not leg.announced:
            return
        if reason is None or reason is StopReason.CALLER_HUNG_UP:
            reason = StopReason.ANSWERED_ELSEWHERE if call.answered_by else StopReason.CALLER_HUNG_UP
        out.append(RingStopped(call.call_id, self.clock(), leg.extension, reason))

    def _finish(self, call: Call, out: list[CallEvent]) -> None:
        del self.calls[call.call_id]
        if call.consult_of is not None and not call.absorbed:
            target = self.calls.get(call.consult_of)
            for leg in call.legs.values():
                if target is not None and leg.state is not LegState.GONE and leg.extension != target.answered_by:
                    out.append(RingStopped(target.call_id, self.clock(), leg.extension, StopReason.TRANSFER_CANCELLED))
            return
        if call.started:
            out.append(ended_event(call, self.clock()))

    # -- lookups ----------------------------------------------------------------------------------

    def call_of(self, ev: Event) -> Call | None:
        channel = self._channels.get(ev.get("Uniqueid", ""))
        if channel is not None:
            return self.calls.get(channel.call_id)
        return self.calls.get(ev.get("Linkedid", ""))

    def channel(self, uniqueid: str) -> TrackedChannel | None:
        return self._channels.get(uniqueid)

    def call_by_channel(self, uniqueid: str | None) -> Call | None:
        channel = self._channels.get(uniqueid or "")
        return self.calls.get(channel.call_id) if channel is not None else None

    def move_channel(self, uniqueid: str, call: Call) -> None:
        """The channel now belongs to `call` (an attended transfer's target): its hangup ends that call."""
        channel = self._channels.get(uniqueid)
        if channel is not None:
            channel.call_id = call.call_id
            call.channels.add(uniqueid)

    def _answered_call_of(self, extension: str) -> Call | None:
        for call in self.calls.values():
            if call.answered_by == extension and call.started and not call.internal:
                return call
        return None

    def remember_caller(self, call: Call, ev: Event) -> None:
        if call.direction is Direction.INBOUND and not call.caller:
            call.caller = self.e164(caller_number(ev.get("CallerIDNum")))
            call.caller_name = call.caller_name or _name(ev.get("CallerIDName"))

    def e164(self, number: str | None) -> str | None:
        if not number:
            return None
        try:
            return normalize_phone(number, self.region)
        except InvalidIdentity:
            return number

    # -- reconciliation (see reconcile.py) ---------------------------------------------------------

    def knows_channel(self, uniqueid: str) -> bool:
        return uniqueid in self._channels

    def forget_origination(self, call_id: str) -> bool:
        """Drop a click-to-call whose channels never appeared; True if it was still only expected."""
        return self._originations.pop(call_id, None) is not None

    def begin_reconcile(self) -> frozenset[str]:
        """Before asking the PBX what is live: the channels known now, and start noting hangups."""
        self._hung_up = set()
        return frozenset(self._channels)

    def end_reconcile(self) -> None:
        self._hung_up = None

    def reconcile(self, known: frozenset[str], channels: Sequence[Event], queue_entries: Sequence[Event],
                  members: Sequence[Event] = ()) -> list[CallEvent]:
        """Apply the PBX's answer to `CoreShowChannels` / `QueueStatus` asked after `begin_reconcile`."""
        hung_up, self._hung_up = self._hung_up or set(), None
        out = reconcile(self, known, hung_up, list(channels), list(queue_entries))
        # A pause made on the PBX while we were away shows; "not paused" is no news (and must not end a
        # break taken in Switchboard while the PBX could not be told).
        return out + [paused for member in members if (paused := member_paused(member)) is not None and paused.paused]


_HANDLERS: dict[str, Callable[[CallTracker, Event, list[CallEvent]], None]] = {
    "Newchannel": CallTracker._on_newchannel,
    "Newstate": CallTracker._on_caller_update,
    "NewCallerid": CallTracker._on_caller_update,
    "VarSet": CallTracker._on_varset,
    "Hangup": CallTracker._on_hangup,
    "QueueCallerJoin": queues.on_queue_join,
    "AgentCalled": queues.on_agent_called,
    "AgentRingNoAnswer": queues.on_ring_no_answer,
    "AgentConnect": queues.on_agent_connect,
    "AgentComplete": queues.on_agent_complete,
    "QueueCallerAbandon": queues.on_abandon,
    "QueueMemberPause": CallTracker._on_member_pause,
    "DialBegin": CallTracker._on_dial_begin,
    "DialState": CallTracker._on_dial_state,
    "DialEnd": CallTracker._on_dial_end,
    "BridgeEnter": CallTracker._on_bridge_enter,
    "BlindTransfer": on_blind_transfer,
    "AttendedTransfer": on_attended_transfer,
}


def tracked_events() -> frozenset[str]:
    """The AMI events `CallTracker.feed` reads (every other event it ignores)."""
    return frozenset(_HANDLERS)
