"""Transfers: a blind one re-dials from the client's channel; an attended one hands a consultation over.

Attended, as Asterisk 22 does it with the `*2` feature: the operator's own leg is the only transferer
channel (AttendedTransfer's OrigTransferer = SecondTransferer), and the consultation reaches the colleague
through `Local/102@xfer-targets-…`, keeping the client call's Linkedid: the colleague's ring is a
consultation ring of the client's call (tracker.ring) and the call becomes theirs when AttendedTransfer
says so. A desk phone's own transfer key places the consultation as a call of its own (its own Linkedid,
SecondTransferer = that second line): the tracker links it to the client's call (`consult_of`) and moves
the colleague's channel over here.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from channels.asterisk.calls import Call, Leg, LegState
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
    _left(tracker, call, ev.get("TransfererUniqueid"), source, target)
    out.append(CallTransferred(call.call_id, tracker.clock(), source, target, "blind"))


def on_attended_transfer(tracker: CallTracker, ev: Event, out: list[CallEvent]) -> None:
    if ev.get("Result") != "Success":
        return
    call = (tracker.calls.get(ev.get("OrigTransfererLinkedid", "")) or tracker.call_by_channel(
        ev.get("TransfereeUniqueid")) or tracker.call_by_channel(ev.get("OrigTransfererUniqueid")))
    if call is None:
        return
    second = tracker.calls.get(ev.get("SecondTransfererLinkedid", ""))
    leg = _second_line_target(tracker, call, second, ev) if second not in (None, call) else _consulted(call, ev)
    if leg is None:
        return
    source = extension_of(ev.get("OrigTransfererChannel"))
    call.transfer_from = source
    _left(tracker, call, ev.get("OrigTransfererUniqueid"), source, leg.extension)
    out.append(CallTransferred(call.call_id, tracker.clock(), source, leg.extension, "attended"))
    leg.consult, leg.transfer_from = False, source
    if leg.state is LegState.ANSWERED and leg is not call.answered_leg:
        leg.state = LegState.RINGING       # answered the consultation; now answering the client
        tracker.answer_leg(call, leg, out)


def _consulted(call: Call, ev: Event) -> Leg | None:
    """The colleague's leg of an in-call consultation: named by TransferTarget* when Asterisk sends it (often
    the Local channel in front of the phone, so also by extension), else the one consultation there is."""
    named = call.legs.get(ev.get("TransferTargetUniqueid", ""))
    if named is not None and named.consult:
        return named
    consults = [leg for leg in call.distinct_legs() if leg.consult and leg.state is not LegState.GONE]
    target = extension_of(ev.get("TransferTargetChannel"))
    by_extension = [leg for leg in consults if leg.extension == target]
    if by_extension:
        return by_extension[0]
    candidates = [leg for leg in consults if leg.state is LegState.ANSWERED] or consults
    return candidates[0] if len(candidates) == 1 else None


def _second_line_target(tracker: CallTracker, call: Call, consult: Call | None, ev: Event) -> Leg | None:
    """A consultation placed as a call of its own: its colleague's channel now carries the client's call."""
    target_id = ev.get("TransferTargetUniqueid", "")
    target = extension_of(ev.get("TransferTargetChannel"))
    if not target:
        return None
    consult_leg = consult.legs.pop(target_id, None) if consult is not None else None
    if consult is not None:
        consult.channels.discard(target_id)
        consult.consult_of = None
        consult.absorbed = True
    tracker.move_channel(target_id, call)
    leg = call.legs.get(target_id) or consult_leg or Leg(target_id, ev.get("TransferTargetChannel", ""), target,
                                                         rang_at=tracker.clock())
    call.legs[target_id] = leg
    leg.state = LegState.ANSWERED       # the transfer joins them to the client, whatever their phone showed
    return leg


def _left(tracker: CallTracker, call: Call, uniqueid: str | None, source: str | None, target: str) -> None:
    """The transferer's part ends here: the client left them."""
    leg = call.legs.get(uniqueid or "")
    if leg is None or leg.state is not LegState.ANSWERED:
        leg = call.holder()
    if leg is not None and (source is None or leg.extension == source):
        leg.transferred_to = target
        leg.leave(tracker.clock())
