"""The AMI events the tracker reads: asked of Asterisk as filters, and checked again before parsing.

A queue call is ~160 frames on the wire, of which ~30 say anything the tracker uses (most are `VarSet`,
`Newexten`, `DeviceStateChange`, `Cdr`). Parsing and dispatching the rest costs more than the pop itself,
so the adapter asks Asterisk to send only these (the `Filter` action, needs `write = system` for the AMI
user; a manager.conf `eventfilter` line does the same), and whatever still arrives is dropped on its first
line, before it becomes a panoramisk `Message`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.asterisk.tracker import LEAD_VARIABLE, RECORDING_VARIABLES, tracked_events

VARIABLES = (*RECORDING_VARIABLES, LEAD_VARIABLE)
# panoramisk's own: FullyBooted releases the actions it queued while disconnected, Shutdown closes.
PANORAMISK_EVENTS = frozenset({"FullyBooted", "Shutdown"})
# Besides those and the tracker's: the answer of an asynchronous Originate.
EVENTS = frozenset(tracked_events()) | {"OriginateResponse"} | PANORAMISK_EVENTS
_VARSET_PREFIXES = tuple(f"\r\nVariable: {name}\r\n" for name in VARIABLES)


def filter_regex() -> str:
    """One include filter (POSIX extended regex over the whole event, Asterisk's legacy syntax, kept in 22) for
    exactly the events read here. One filter, not one per event: Asterisk drops every event that matches no
    include filter as soon as the first is added, so filters added one by one would lose events meanwhile."""
    names = "|".join(sorted(EVENTS - {"VarSet"}))      # VarSet: only of the variables read
    return f"Event: ({names})[[:space:]]|Variable: ({'|'.join(VARIABLES)})[[:space:]]"


def filter_actions() -> list[dict[str, str]]:
    """The `Filter` actions that leave exactly the events read here."""
    return [{"Action": "Filter", "Operation": "Add", "Filter": filter_regex()}]


def manager_conf_lines() -> list[str]:
    """The same filter as a manager.conf line, for an AMI user that may not send `Filter`."""
    return [f"eventfilter = {filter_regex()}"]


def event_name(frame: str) -> str:
    """The name of an event frame (it starts `Event: `)."""
    end = frame.find("\r\n")
    return frame[7:end] if end >= 0 else frame[7:]


def parse_event(frame: str) -> dict[str, Any] | None:
    """An event frame (`Event: ...` lines, CRLF, no trailing blank line) the tracker reads, as a plain dict;
    None for an event it does not read. A repeated field becomes a list, as panoramisk makes it."""
    name = event_name(frame)
    if name not in EVENTS or (name == "VarSet" and not any(p in frame for p in _VARSET_PREFIXES)):
        return None
    event: dict[str, Any] = {}
    for line in frame.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if key in event:
            previous = event[key]
            event[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            event[key] = value
    return event


EventSink = Callable[[dict[str, Any]], None]
