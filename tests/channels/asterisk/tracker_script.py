"""AMI events written by hand as Asterisk 22 sends them, fed to a CallTracker (optionally with its clock moved on)."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from channels.asterisk.tracker import CallTracker
from support.clocks import ManualClock


def run(tracker: CallTracker, events: list[dict[str, str]]) -> list[Any]:
    return [out for ev in events for out in tracker.feed(ev)]


def kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


class Script:
    """AMI events as Asterisk 22 writes them for PJSIP phones and a trunk, with fresh ids."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.events: list[dict[str, str]] = []

    def channel(self, device: str, *, linkedid: str | None = None, caller: str = "", name: str = "",
                exten: str = "s", uniqueid: str | None = None) -> dict[str, str]:
        n = next(self._ids)
        uid = uniqueid or f"1795384400.{n}"
        ch = {"Channel": f"{device}-{n:08x}", "Uniqueid": uid, "Linkedid": linkedid or uid,
              "CallerIDNum": caller or "<unknown>", "CallerIDName": name or "<unknown>", "Exten": exten}
        self.events.append({"Event": "Newchannel", "ChannelStateDesc": "Ring", **ch})
        return ch

    def _pair(self, src: dict[str, str] | None, dst: dict[str, str]) -> dict[str, str]:
        pair = {"DestChannel": dst["Channel"], "DestUniqueid": dst["Uniqueid"], "DestLinkedid": dst["Linkedid"]}
        if src is not None:
            pair.update(Channel=src["Channel"], Uniqueid=src["Uniqueid"], Linkedid=src["Linkedid"],
                        CallerIDNum=src["CallerIDNum"], CallerIDName=src["CallerIDName"])
        return pair

    def add(self, event: str, src: dict[str, str] | None = None, dst: dict[str, str] | None = None, **fields: str) -> None:
        frame = {"Event": event, **(self._pair(src, dst) if dst else src or {}), **fields}
        self.events.append(frame)

    def ring(self, src: dict[str, str], dst: dict[str, str], queue: str | None = None) -> None:
        if queue:
            self.add("AgentCalled", src, dst, Queue=queue, Interface=dst["Channel"].rsplit("-", 1)[0])
        self.add("DialBegin", src, dst)
        self.add("DialState", src, dst, DialStatus="RINGING")

    def hangup(self, ch: dict[str, str], cause: str = "16") -> None:
        self.add("Hangup", {"Channel": ch["Channel"], "Uniqueid": ch["Uniqueid"], "Linkedid": ch["Linkedid"]},
                 Cause=cause)


def inbound(script: Script, caller: str = "+74951234567", name: str = "Иван Петров") -> dict[str, str]:
    return script.channel("PJSIP/pstn", caller=caller, name=name, exten="6000")


START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class Timed:
    """Feeds a Script's events as they are written, with the tracker's clock moved on in between."""

    def __init__(self, script: Script, **tracker: Any) -> None:
        self.script, self.clock, self.fed, self.out = script, ManualClock(START), 0, []
        self.tracker = CallTracker(clock=self.clock, **tracker)

    def after(self, seconds: float) -> None:
        self.out += run(self.tracker, self.script.events[self.fed:])
        self.fed = len(self.script.events)
        self.clock.now += timedelta(seconds=seconds)

    def end(self) -> list[Any]:
        self.after(0)
        return self.out
