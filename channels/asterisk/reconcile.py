"""After every (re)connect: make the tracker agree with what the PBX says is live right now.

`CoreShowChannels` lists the live channels, `QueueStatus` the callers waiting in queues. Whatever the
tracker holds that is no longer live ended while we were away; whatever is live that it does not hold
began while we were away (or before this process started). Both are replayed through the tracker as
the events that would have told us, so there is one state machine and no second code path.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from channels.asterisk.devices import extension_of, local_half
from channels.asterisk.types import MemberPaused

if TYPE_CHECKING:
    from channels.asterisk.tracker import CallTracker
    from channels.asterisk.types import CallEvent

Event = Mapping[str, str]


def reconcile(tracker: CallTracker, known: frozenset[str], hung_up: set[str], channels: Sequence[Event],
              queue_entries: Sequence[Event]) -> list[CallEvent]:
    """`known`: channels tracked when the question was asked; `hung_up`: hangups seen since (the answer
    may be older than those events, so neither a channel born since nor one gone since is touched)."""
    live = {ev["Uniqueid"]: ev for ev in channels if ev.get("Uniqueid") and ev["Uniqueid"] not in hung_up}
    out: list[CallEvent] = []
    for uniqueid in [u for u in known if tracker.knows_channel(u) and u not in live]:
        out += tracker.feed({"Event": "Hangup", "Uniqueid": uniqueid, "Cause": "16", "Cause-txt": "Normal Clearing"})
    by_call: dict[str, list[Event]] = defaultdict(list)
    for ev in live.values():
        by_call[ev.get("Linkedid") or ev["Uniqueid"]].append(ev)
    entries = {ev.get("Uniqueid") or ev.get("Channel", ""): ev for ev in queue_entries}
    for linkedid, members in by_call.items():
        out += _adopt(tracker, linkedid, members, entries)
    return out


def _adopt(tracker: CallTracker, linkedid: str, members: list[Event], entries: Mapping[str, Event]) -> list[CallEvent]:
    out: list[CallEvent] = []
    root = next((ev for ev in members if ev["Uniqueid"] == linkedid), members[0])
    fresh = linkedid not in tracker.calls
    for ev in [root, *[m for m in members if m is not root]]:
        if not tracker.knows_channel(ev["Uniqueid"]):
            out += tracker.feed({**ev, "Event": "Newchannel", "Linkedid": linkedid})
    call = tracker.calls.get(linkedid)
    if call is None:
        return out
    if fresh:
        age = _seconds(root.get("Duration"))
        call.opened -= timedelta(seconds=age)
        call.adopted_seconds = age
    for ev in members:
        entry = entries.get(ev["Uniqueid"]) or entries.get(ev.get("Channel", ""))
        if entry is not None and not call.started:
            out += tracker.feed({**ev, **entry, "Event": "QueueCallerJoin", "Uniqueid": ev["Uniqueid"]})
    for ev in members:
        if ev is root or local_half(ev.get("Channel")) == 2:
            continue        # the ;2 half of a Local channel is the same phone as its ;1 half
        extension = extension_of(ev.get("Channel"))
        if not extension or not tracker.is_agent(extension):
            continue
        dial = {"Channel": root.get("Channel", ""), "Uniqueid": root["Uniqueid"], "Linkedid": linkedid,
                "CallerIDNum": root.get("CallerIDNum", ""), "CallerIDName": root.get("CallerIDName", ""),
                "DestChannel": ev.get("Channel", ""), "DestUniqueid": ev["Uniqueid"], "DestLinkedid": linkedid}
        if ev["Uniqueid"] not in call.legs:
            out += tracker.feed({**dial, "Event": "DialBegin"})
        if ev.get("ChannelStateDesc") == "Up":
            out += tracker.feed({**dial, "Event": "DialEnd", "DialStatus": "ANSWER"})
    return out


def _seconds(duration: str | None) -> float:
    """`HH:MM:SS` as CoreShowChannel reports it."""
    try:
        hours, minutes, seconds = (int(part) for part in (duration or "").split(":"))
    except ValueError:
        return 0.0
    return float(hours * 3600 + minutes * 60 + seconds)


def member_paused(ev: Event) -> MemberPaused | None:
    """A queue member's pause state, from `QueueMemberPause` or a `QueueStatus` listing's `QueueMember`."""
    extension = extension_of(ev.get("Interface") or ev.get("Location") or ev.get("StateInterface"))
    if not extension:
        return None
    return MemberPaused(extension, ev.get("Queue") or None, ev.get("Paused") == "1",
                        ev.get("PausedReason") or ev.get("Reason") or None)
