"""Recordings of a real Asterisk replayed on the simulated PBX: fresh ids, channel suffixes, bridges and times."""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from simulators.pbx.script import cdr_time

if TYPE_CHECKING:
    from simulators.pbx.wire import Frame
    from simulators.pbx.server import SimulatedPbx


_ID = re.compile(r"^\d+\.\d+$")
_SUFFIX = re.compile(r"(?<=[A-Za-z0-9]/)([^\s/]*?-)([0-9a-f]{8})(?![0-9a-f])")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DROPPED = {"SuccessfulAuth", "FullyBooted"}      # the recorder's own login, not the calls


@dataclass(frozen=True, slots=True)
class Recording:
    frames: tuple[tuple[Frame, float | None], ...]     # each frame with its recorded time, when one is known
    caller: str | None
    caller_name: str | None


@lru_cache(maxsize=16)
def load(path: Path) -> Recording:
    """The call frames of a recording (banner, login, Goodbye dropped) with times to pace them by."""
    text = path.read_bytes().decode("utf-8").removeprefix("Asterisk Call Manager/11.0.0\r\n")
    frames = [f for f in (_parse(block) for block in text.split("\r\n\r\n"))
              if "Event" in f and f["Event"] not in _DROPPED]
    cdrs = {f["UniqueID"]: f for f in frames if f["Event"] == "Cdr"}
    timed, last = [], None
    for frame in frames:
        moment = _recorded_time(frame, cdrs)
        if moment is not None:
            last = max(moment, last or moment)       # anchors are coarse: never let time run backwards
        timed.append((frame, last if moment is not None else None))
    first = next((f for f in frames if f["Event"] in ("QueueCallerJoin", "DialBegin") and f.get("Channel")), {})
    return Recording(tuple(timed), first.get("CallerIDNum"), first.get("CallerIDName"))


def _parse(block: str) -> Frame:
    frame: Frame = {}
    for line in block.split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            frame.setdefault(key, value)
        elif line.endswith(":"):
            frame.setdefault(line[:-1], "")
    return frame


def _recorded_time(frame: Frame, cdrs: dict[str, Frame]) -> float | None:
    """When this frame was sent: from EventTV/Timestamp if present, else what the ids and CDRs reveal
    (a Uniqueid is its channel's creation second; a CDR has the channel's answer and end times)."""
    if "EventTV" in frame:
        return datetime.strptime(frame["EventTV"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    if "Timestamp" in frame:
        return float(frame["Timestamp"])
    event, uid = frame["Event"], frame.get("Uniqueid", "")
    cdr = cdrs.get(uid)
    if event == "Newchannel" and _ID.match(uid) and uid == frame.get("Linkedid"):
        # Only a call's first channel: a Uniqueid holds its creation second truncated, so a leg's would put a
        # whole made-up second between QueueCallerJoin and AgentCalled, which Asterisk sends within ~1 ms.
        return float(uid.split(".")[0])
    if cdr and event == "Newstate" and frame.get("ChannelStateDesc") == "Up" and cdr.get("AnswerTime"):
        return _cdr_epoch(cdr["AnswerTime"])
    if cdr and event == "Hangup":
        return _cdr_epoch(cdr["EndTime"])
    return None


def _cdr_epoch(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


class _Rewriter:
    """Fresh ids, channel numbers, bridges and times for one replay, mapped consistently across its frames."""

    def __init__(self, pbx: SimulatedPbx, shift: float, callers: dict[str, str]) -> None:
        self.pbx, self.shift, self.callers = pbx, shift, callers
        self.ids: dict[str, str] = {}
        self.suffixes: dict[str, str] = {}
        self.bridges: dict[str, str] = {}

    def frame(self, frame: Frame) -> Frame:
        return {key: self.value(key, value) for key, value in frame.items()}

    def value(self, key: str, value: str) -> str:
        lower = key.lower()
        if (lower.endswith("uniqueid") or lower.endswith("linkedid")) and _ID.match(value):
            return self.ids.setdefault(value, self.pbx.new_uniqueid())
        if key in ("EventTV", "SessionTV"):
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z") + timedelta(seconds=self.shift)
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
        if key in ("StartTime", "AnswerTime", "EndTime") and value:
            return cdr_time(datetime.fromtimestamp(_cdr_epoch(value) + self.shift, UTC))
        if key in ("LastCall", "LastPause", "LoginTime", "Timestamp") and value not in ("", "0"):
            return str(int(float(value) + self.shift))
        value = _SUFFIX.sub(lambda m: m.group(1) + self.suffixes.setdefault(
            m.group(2), self.pbx.new_channel_suffix()), value)
        value = _UUID.sub(lambda m: self.bridges.setdefault(m.group(0), str(uuid.uuid4())), value)
        for old, new in self.callers.items():
            value = value.replace(old, new)
        return value


async def replay(pbx: SimulatedPbx, path: Path, *, caller: str | None = None, caller_name: str | None = None) -> str:
    """Play a recording as a new call (or calls): fresh ids and times, optionally another caller; paced by `speed`."""
    recording = load(path)
    callers = {}
    if caller and recording.caller:
        callers[recording.caller] = caller
    if caller_name and recording.caller_name:
        callers[recording.caller_name] = caller_name
    anchors = [t for _, t in recording.frames if t is not None]
    rewriter = _Rewriter(pbx, time.time() - anchors[0] if anchors else 0.0, callers)
    linkedid, previous = "", anchors[0] if anchors else None
    for frame, moment in recording.frames:
        if pbx.speed and moment is not None and previous is not None and moment > previous:
            await pbx.pause(moment - previous)
        previous = moment if moment is not None else previous
        fresh = rewriter.frame(frame)
        linkedid = linkedid or fresh.get("Linkedid", "")
        pbx.emit(fresh)
        await pbx.backpressure()
    await pbx.flush()
    return linkedid
