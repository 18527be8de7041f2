"""Transfers: a blind transfer re-dials from the caller's channel; an attended one hands over a consultation.

The consultation is a call of its own on the PBX (the operator's second line, its own Linkedid); the
tracker links it to the client's call so that the colleague's phone pops the client's card while it
rings, and moves the colleague's channel over when the transfer completes.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from channels.asterisk.calls import Leg, LegState
from channels.asterisk.devices import extension_of
from channels.asterisk.types import CallEvent, CallTransferred

if TYPE_CHECKING:
    from channels.asterisk.tracker import CallTracker

Event = Mapping[str, str]


def on_blind_transfer(tracker: CallTracker, ev: Event, out: list[CallEvent]) -> None:
    if ev.get("Result") != "Success":
        return
    call = tracker.calls.get(ev.get("TransfereeLinkedid", "")) or tracker.call_by_channel(ev.get("TransfereeUniqueid"))
    target = ev.get("Extension") or ""
    if call is None or not target:
        return
    source = extension_of(ev.get("TransfererChannel"))
    call.transfer_from = source
    out.append(CallTransferred(call.call_id, tracker.clock(), source, target, "blind"))


def on_attended_transfer(tracker: CallTracker, ev: Event, out: list[CallEvent]) -> None:
    if ev.get("Result") != "Success":
        return
    call = tracker.calls.get(ev.get("OrigTransfererLinkedid", "")) or tracker.call_by_channel(ev.get("TransfereeUniqueid"))
    consult = tracker.calls.get(ev.get("SecondTransfererLinkedid", ""))
    target_id = ev.get("TransferTargetUniqueid", "")
    target = extension_of(ev.get("TransferTargetChannel"))
    if call is None or not target:
        return
    source = extension_of(ev.get("OrigTransfererChannel"))
    out.append(CallTransferred(call.call_id, tracker.clock(), source, target, "attended"))
    # The target's channel now carries the client's call: move it over so its hangup ends this call.
    consult_leg = consult.legs.pop(target_id, None) if consult is not None else None
    if consult is not None:
        consult.channels.discard(target_id)
    tracker.move_channel(target_id, call)
    leg = call.legs.get(target_id) or consult_leg or Leg(target_id, ev.get("TransferTargetChannel", ""), target)
    call.legs[target_id] = leg
    leg.transfer_from = source
    if leg.state is not LegState.ANSWERED or call.answered_by != target:
        leg.state = LegState.RINGING
        tracker.answer_leg(call, leg, out)
    if consult is not None:
        consult.consult_of = None
        consult.absorbed = True
