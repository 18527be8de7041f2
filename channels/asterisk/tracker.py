"""The call state machine: raw AMI events in, normalized call progress out.

Built on the sequences a real Asterisk 22 sends (the recordings in simulators/pbx/recordings): every channel of a call shares the
caller's Linkedid; the channel whose Uniqueid *is* the Linkedid is the caller (for an originated Local
channel, its ;1 half); phones ringing are the destinations of `AgentCalled` / `DialBegin` that map to
an extension. Queue calls report each ring twice (AgentCalled and DialBegin), so rings are keyed by
the leg's Uniqueid and reported once.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from channels.asterisk.calls import Call, Leg, LegState, Origination, TrackedChannel, ended_event
from channels.asterisk.devices import caller_number, extension_of, looks_like_extension
from channels.asterisk.fields import as_float as _float, as_int as _int, as_name as _name
from channels.asterisk.reconcile import member_paused, reconcile
from channels.asterisk.transfers import on_attended_transfer, on_blind_transfer
from channels.asterisk.types import (
    CallAbandoned, CallAnswered, CallEvent, CallRinging, CallStarted, Direction, RingStopped, StopReason,
)
from channels.identity import InvalidIdentity, normalize_phone

Event = Mapping[str, str]

_DIAL_STOPS = {"NOANSWER": StopReason.NO_ANSWER, "BUSY": StopReason.BUSY, "CONGESTION": StopReason.UNAVAILABLE,
               "CHANUNAVAIL": StopReason.UNAVAILABLE, "CANCEL": StopReason.CALLER_HUNG_UP}
RECORDING_VARIABLES = ("MIXMONITOR_FILENAME", "SWITCHBOARD_RECORDING")


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
            call.caller, call.lead_id = self._e164(origination.number), origination.lead_id
        elif root_extension and self.is_agent(root_extension):
            call.direction, call.origin_extension = Direction.OUTBOUND, root_extension
            call.internal = True          # until it dials out, or turns out to be a transfer consultation
            consulting = self._answered_call_of(root_extension)
            if consulting is not None:
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
        if ev.get("Variable") in RECORDING_VARIABLES and ev.get("Value"):
            call = self._call_of(ev)
            if call is not None:
                call.recording = ev["Value"]

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
        if leg is not None:
            self._leg_gone(call, leg, StopReason.NO_ANSWER if _int(ev.get("Cause")) in (18, 19) else None, out)
        if not call.channels:
            self._finish(call, out)

    # -- queues -----------------------------------------------------------------------------------

    def _on_queue_join(self, ev: Event, out: list[CallEvent]) -> None:
        call = self._call_of(ev)
        if call is None:
            return
        call.queue = ev.get("Queue") or call.queue
        self._remember_caller(call, ev)
        self._start(call, out)

    def _on_agent_called(self, ev: Event, out: list[CallEvent]) -> None:
        call = self._call_of(ev)
        extension = extension_of(ev.get("Interface")) or extension_of(ev.get("DestChannel"))
        if call is None or not extension:
            return
        call.queue = ev.get("Queue") or call.queue
        self._remember_caller(call, ev)
        self._ring(call, ev.get("DestUniqueid") or ev.get("DestChannel", ""), ev.get("DestChannel", ""), extension, out)

    def _on_ring_no_answer(self, ev: Event, out: list[CallEvent]) -> None:
        call = self._call_of(ev)
        leg = call and call.legs.get(ev.get("DestUniqueid") or ev.get("DestChannel", ""))
        if call is not None and leg is not None:
            self._leg_gone(call, leg, StopReason.NO_ANSWER, out)

    def _on_agent_connect(self, ev: Event, out: list[CallEvent]) -> None:
        call = self._call_of(ev)
        leg = call and call.legs.get(ev.get("DestUniqueid") or ev.get("DestChannel", ""))
        if call is not None and leg is not None:
            hold = _float(ev.get("HoldTime"))
            call.wait_override = hold if hold is not None else call.wait_override
            self.answer_leg(call, leg, out, wait=hold)

    def _on_abandon(self, ev: Event, out: list[CallEvent]) -> None:
        call = self._call_of(ev)
        if call is None or call.abandoned:
            return
        call.abandoned = True
        call.queue = ev.get("Queue") or call.queue
        wait = _float(ev.get("HoldTime"))
        call.wait_override = wait
        self._start(call, out)
        out.append(CallAbandoned(call.call_id, self.clock(), call.queue,
                                 wait if wait is not None else call.seconds_since_open(self.clock())))

    def _on_agent_complete(self, ev: Event, out: list[CallEvent]) -> None:
        call = self._call_of(ev)
        if call is not None and ev.get("TalkTime"):
            call.talk_override = _float(ev.get("TalkTime"))

    def _on_member_pause(self, ev: Event, out: list[CallEvent]) -> None:
        paused = member_paused(ev)
        if paused is not None:
            out.append(paused)

    # -- dials ------------------------------------------------------------------------------------

    def _on_dial_begin(self, ev: Event, out: list[CallEvent]) -> None:
        dest_id, dest_name = ev.get("DestUniqueid", ""), ev.get("DestChannel", "")
        call = self.calls.get(ev.get("DestLinkedid", "")) or self._call_of(ev)
        if call is None or not dest_id:
            return
        extension = extension_of(dest_name)
        to_agent = bool(extension) and self.is_agent(extension or "")
        if not ev.get("Channel"):
            # An Originate's own dial to its first channel carries no caller fields. For our click-to-call
            # that channel is the operator's phone ringing; for anything else it is not a ring at all.
            if call.originated and to_agent and extension:
                self._ring(call, dest_id, dest_name, extension, out, connects=False)
            return
        placed_by_us = call.direction is Direction.OUTBOUND and not call.internal
        if to_agent and extension and not placed_by_us:
            self._remember_caller(call, ev)
            self._ring(call, dest_id, dest_name, extension, out)
            return
        if call.internal and not to_agent:
            # An operator's desk phone dialled a client: an outbound call, not an internal one.
            source = self._channels.get(ev.get("Uniqueid", ""))
            call.internal, call.consult_of = False, None
            call.caller = self._e164((source.exten if source else None) or ev.get("Exten"))
            self._start(call, out)
        if call.direction is Direction.OUTBOUND and not to_agent:
            call.client_leg = dest_id

    def _on_dial_state(self, ev: Event, out: list[CallEvent]) -> None:
        if ev.get("DialStatus") != "RINGING":
            return
        call = self._call_of(ev) or self.calls.get(ev.get("DestLinkedid", ""))
        dest_name = ev.get("DestChannel", "")
        extension = extension_of(dest_name)
        if call is not None and ev.get("Channel") and extension and self.is_agent(extension):
            self._ring(call, ev.get("DestUniqueid") or dest_name, dest_name, extension, out)

    def _on_dial_end(self, ev: Event, out: list[CallEvent]) -> None:
        call = self.calls.get(ev.get("DestLinkedid", "")) or self._call_of(ev)
        if call is None:
            return
        dest_id = ev.get("DestUniqueid") or ev.get("DestChannel", "")
        status = ev.get("DialStatus", "")
        if dest_id == call.client_leg:
            call.client_answered = status == "ANSWER"
            if call.client_answered:
                call.answered_at = call.answered_at or self.clock()
            return
        leg = call.legs.get(dest_id)
        if leg is None:
            return
        if status == "ANSWER":
            self.answer_leg(call, leg, out)
        elif status in _DIAL_STOPS:
            self._leg_gone(call, leg, _DIAL_STOPS[status], out)

    def _on_bridge_enter(self, ev: Event, out: list[CallEvent]) -> None:
        call = self._call_of(ev)
        leg = call and call.legs.get(ev.get("Uniqueid", ""))
        if call is not None and leg is not None and leg.state is LegState.RINGING:
            self.answer_leg(call, leg, out)

    # -- the moves --------------------------------------------------------------------------------

    def _start(self, call: Call, out: list[CallEvent]) -> None:
        if call.started or call.internal:
            return
        call.started = True
        root = self._channels.get(call.root)
        if call.direction is Direction.INBOUND and root is not None:
            call.caller = call.caller or self._e164(root.caller)
            call.caller_name = call.caller_name or root.caller_name
        out.append(CallStarted(call.call_id, self.clock(), call.direction, call.caller, call.caller_name, call.did,
                               call.queue, call.origin_extension, call.lead_id, call.adopted_seconds))

    def _ring(self, call: Call, leg_id: str, name: str, extension: str, out: list[CallEvent],
              connects: bool = True) -> None:
        if call.consult_of is not None:
            target = self.calls.get(call.consult_of)
            if target is None or leg_id in call.legs:
                return
            call.legs[leg_id] = Leg(leg_id, name, extension, transfer_from=call.origin_extension)
            out.append(CallRinging(target.call_id, self.clock(), extension, target.queue,
                                   transfer_from=call.origin_extension))
            if extension not in target.rang:
                target.rang.append(extension)
            return
        if call.internal or leg_id in call.legs:
            return
        self._start(call, out)
        leg = Leg(leg_id, name, extension, transfer_from=call.transfer_from if call.answered_by else None,
                  connects=connects)
        call.legs[leg_id] = leg
        if extension not in call.rang:
            call.rang.append(extension)
        out.append(CallRinging(call.call_id, self.clock(), extension, call.queue, transfer_from=leg.transfer_from))

    def answer_leg(self, call: Call, leg: Leg, out: list[CallEvent], wait: float | None = None) -> None:
        if leg.state is not LegState.RINGING:
            return
        leg.state = LegState.ANSWERED
        if call.consult_of is not None:
            return      # the colleague took the consultation; the client is theirs only once transferred
        now = self.clock()
        first = call.answered_by is None
        call.answered_by = leg.extension
        if leg.connects:
            call.answered_at = call.answered_at or now
        if first and wait is not None:
            call.wait_override = wait
        out.append(CallAnswered(call.call_id, now, leg.extension,
                                wait if wait is not None else call.seconds_since_open(now)))
        for other in call.legs.values():
            if other is not leg and other.state is LegState.RINGING:
                other.state = LegState.GONE
                out.append(RingStopped(call.call_id, now, other.extension, StopReason.ANSWERED_ELSEWHERE))

    def _leg_gone(self, call: Call, leg: Leg, reason: StopReason | None, out: list[CallEvent]) -> None:
        before, leg.state = leg.state, LegState.GONE
        if call.consult_of is not None:
            # The colleague's phone in a consultation: until a transfer, leaving it means no transfer.
            target = self.calls.get(call.consult_of)
            if target is not None and before is not LegState.GONE:
                out.append(RingStopped(target.call_id, self.clock(), leg.extension, StopReason.TRANSFER_CANCELLED))
            return
        if before is not LegState.RINGING:
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

    def _call_of(self, ev: Event) -> Call | None:
        channel = self._channels.get(ev.get("Uniqueid", ""))
        if channel is not None:
            return self.calls.get(channel.call_id)
        return self.calls.get(ev.get("Linkedid", ""))

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

    def _remember_caller(self, call: Call, ev: Event) -> None:
        if call.direction is Direction.INBOUND and not call.caller:
            call.caller = self._e164(caller_number(ev.get("CallerIDNum")))
            call.caller_name = call.caller_name or _name(ev.get("CallerIDName"))

    def _e164(self, number: str | None) -> str | None:
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
    "QueueCallerJoin": CallTracker._on_queue_join,
    "AgentCalled": CallTracker._on_agent_called,
    "AgentRingNoAnswer": CallTracker._on_ring_no_answer,
    "AgentConnect": CallTracker._on_agent_connect,
    "AgentComplete": CallTracker._on_agent_complete,
    "QueueCallerAbandon": CallTracker._on_abandon,
    "QueueMemberPause": CallTracker._on_member_pause,
    "DialBegin": CallTracker._on_dial_begin,
    "DialState": CallTracker._on_dial_state,
    "DialEnd": CallTracker._on_dial_end,
    "BridgeEnter": CallTracker._on_bridge_enter,
    "BlindTransfer": on_blind_transfer,
    "AttendedTransfer": on_attended_transfer,
}
