"""Queue events: a caller joins, members are rung, one connects, the caller abandons, a member completes.

The queue's own HoldTime and TalkTime are better than our clock (a replayed or adopted call): HoldTime is
the call's wait, and a member's TalkTime is that member's talk only (Reason: transfer after a transfer).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from channels.asterisk.devices import extension_of
from channels.asterisk.fields import as_float as _float
from channels.asterisk.types import CallAbandoned, CallEvent, StopReason

if TYPE_CHECKING:
    from channels.asterisk.tracker import CallTracker

Event = Mapping[str, str]


def on_queue_join(tracker: CallTracker, ev: Event, out: list[CallEvent]) -> None:
    call = tracker.call_of(ev)
    if call is None:
        return
    call.queue = ev.get("Queue") or call.queue
    tracker.remember_caller(call, ev)
    tracker.start(call, out)


def on_agent_called(tracker: CallTracker, ev: Event, out: list[CallEvent]) -> None:
    call = tracker.call_of(ev)
    extension = extension_of(ev.get("Interface")) or extension_of(ev.get("DestChannel"))
    if call is None or not extension:
        return
    call.queue = ev.get("Queue") or call.queue
    tracker.remember_caller(call, ev)
    tracker.ring(call, ev.get("DestUniqueid") or ev.get("DestChannel", ""), ev.get("DestChannel", ""), extension, out)


def on_ring_no_answer(tracker: CallTracker, ev: Event, out: list[CallEvent]) -> None:
    call = tracker.call_of(ev)
    leg = call and call.legs.get(ev.get("DestUniqueid") or ev.get("DestChannel", ""))
    if call is not None and leg is not None:
        tracker.leg_gone(call, leg, StopReason.NO_ANSWER, out)


def on_agent_connect(tracker: CallTracker, ev: Event, out: list[CallEvent]) -> None:
    call = tracker.call_of(ev)
    leg = call and call.legs.get(ev.get("DestUniqueid") or ev.get("DestChannel", ""))
    if call is not None and leg is not None:
        hold = _float(ev.get("HoldTime"))
        call.wait_override = hold if hold is not None else call.wait_override
        tracker.answer_leg(call, leg, out, wait=hold)


def on_abandon(tracker: CallTracker, ev: Event, out: list[CallEvent]) -> None:
    call = tracker.call_of(ev)
    if call is None or call.abandoned:
        return
    call.abandoned = True
    call.queue = ev.get("Queue") or call.queue
    wait = _float(ev.get("HoldTime"))
    call.wait_override = wait
    tracker.start(call, out)
    out.append(CallAbandoned(call.call_id, tracker.clock(), call.queue,
                             wait if wait is not None else call.seconds_since_open(tracker.clock())))


def on_agent_complete(tracker: CallTracker, ev: Event, out: list[CallEvent]) -> None:
    # The member's own talk (Reason: transfer after a transfer): that leg's, not the whole call's.
    call = tracker.call_of(ev)
    leg = call and (call.legs.get(ev.get("DestUniqueid") or ev.get("DestChannel", "")) or next(
        (leg for leg in call.distinct_legs() if leg.connected_at is not None
         and leg.extension == extension_of(ev.get("Interface"))), None))
    if leg is not None and ev.get("TalkTime"):
        leg.talk_override = _float(ev.get("TalkTime"))
