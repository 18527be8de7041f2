"""Calls opened by an AMI `Originate` or placed from a desk phone: outbound calls of the operator who dials.

An Originate's first dial has no caller side (no `Channel`, no `CallerID*`), only the `Dest*` fields of
the channel it rings first: the operator's phone. Our own click-to-call was announced to the tracker
(`expect_origination`). A call placed from outside Switchboard (another tool's Originate, a desk phone's
speed dial to `Local/101@agents`, or our click-to-call sent by a process that does not hold the voice
lease) has the same shape without the notice: it is an outbound call of the operator whose leg then
dials the client, the client's number being the Exten of that dial (`Local/+7916…@customers`,
`+7916…@trunk`). `DestCallerIDNum` is the client too when the Originate set it, which lets the operator's
phone pop the client's card while it rings; otherwise the call is reported once the operator's leg dials.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from channels.asterisk.calls import Call, Leg
from channels.asterisk.devices import caller_number
from channels.asterisk.types import CallEvent, Direction

if TYPE_CHECKING:
    from channels.asterisk.tracker import CallTracker

Event = Mapping[str, str]

_NUMBER = re.compile(r"\+?[0-9]{5,}")
_LOCAL = re.compile(r"^Local/(?P<exten>[^@;/]+)@")


def originate_dial(tracker: CallTracker, call: Call, ev: Event, extension: str, out: list[CallEvent]) -> None:
    """The opening dial of an Originate, to the operator's phone `extension`."""
    dest_id, dest_name = ev.get("DestUniqueid", ""), ev.get("DestChannel", "")
    if call.originated:
        tracker.ring(call, dest_id, dest_name, extension, out, connects=False)
        return
    if call.direction is not Direction.OUTBOUND or not call.internal or call.legs:
        return        # only a call rooted at an operator's channel opens this way
    call.origin_extension = extension
    number = _phone_number(tracker, caller_number(ev.get("DestCallerIDNum")))
    if number is None:
        tracker.ring(call, dest_id, dest_name, extension, out, connects=False, announce=False)
        return
    call.internal, call.caller = False, tracker.e164(number)
    tracker.ring(call, dest_id, dest_name, extension, out, connects=False)


def dial_out(tracker: CallTracker, call: Call, ev: Event, out: list[CallEvent]) -> None:
    """A call still between operators (so far) dials someone who is not one: an outbound call to that number,
    and the operator whose leg dials is on it."""
    source = tracker.channel(ev.get("Uniqueid", ""))
    call.internal, call.consult_of = False, None
    if not call.caller:
        # (a desk phone dialling by hand has the number as its own Exten; an Originate's Local has the operator's)
        number = dialled_number(tracker, ev) or _phone_number(tracker, source.exten if source else ev.get("Exten"))
        call.caller = tracker.e164(number)
    tracker.start(call, out)
    if not call.origin_extension:
        return
    leg = next((leg for leg in call.distinct_legs() if leg.extension == call.origin_extension), None)
    if leg is None:         # the desk phone dialled the number itself: its own channel is the operator's leg
        uniqueid = ev.get("Uniqueid", "") or call.root
        leg = Leg(uniqueid, source.name if source else "", call.origin_extension, connects=False,
                  announced=False, rang_at=tracker.clock())
        call.legs[uniqueid] = leg
    if not leg.announced:
        tracker.announce(call, leg, out)
    tracker.answer_leg(call, leg, out)


def dialled_number(tracker: CallTracker, ev: Event) -> str | None:
    """The number a dial goes to: the Exten of a `Local/<number>@context` destination, else the user part of
    the dial string (`+7916…@trunk`); None if neither reads as a phone number."""
    dest = ev.get("DestChannel", "")
    local = _LOCAL.match(dest)
    candidates = (local.group("exten") if local else None, ev.get("DestExten"),
                  (ev.get("DialString") or "").split("@", 1)[0].rsplit("/", 1)[-1])
    return next((number for c in candidates if (number := _phone_number(tracker, c))), None)


def _phone_number(tracker: CallTracker, value: str | None) -> str | None:
    if not value or not _NUMBER.fullmatch(value) or tracker.is_agent(value):
        return None
    return value
