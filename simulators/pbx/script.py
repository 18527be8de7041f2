"""The simulated PBX's pen: channels as event snapshots, and a script that writes a call's frames in order."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulators.pbx.wire import Frame
    from simulators.pbx.server import SimulatedPbx


STATES = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
CAUSES = {16: "Normal Clearing", 19: "User alerting, no answer", 26: "Answered elsewhere", 17: "User busy"}


@dataclass(frozen=True, slots=True)
class Chan:
    """A channel as the channel-snapshot fields of every event describe it."""
    name: str
    uniqueid: str
    linkedid: str
    num: str = "<unknown>"
    cid_name: str = "<unknown>"
    conn_num: str = "<unknown>"
    conn_name: str = "<unknown>"
    state: int = 0
    context: str = "from-internal"
    exten: str = "s"
    priority: int = 1

    def fields(self, prefix: str = "") -> Frame:
        return {f"{prefix}{k}": v for k, v in (
            ("Channel", self.name), ("ChannelState", str(self.state)), ("ChannelStateDesc", STATES[self.state]),
            ("CallerIDNum", self.num), ("CallerIDName", self.cid_name), ("ConnectedLineNum", self.conn_num),
            ("ConnectedLineName", self.conn_name), ("Language", "en"), ("AccountCode", ""),
            ("Context", self.context), ("Exten", self.exten), ("Priority", str(self.priority)),
            ("Uniqueid", self.uniqueid), ("Linkedid", self.linkedid))}


class Script:
    """Emits one call's frames on the PBX, keeping each channel's snapshot current."""

    def __init__(self, pbx: SimulatedPbx) -> None:
        self.pbx = pbx
        self.started = datetime.now(UTC)
        self.elapsed = 0.0            # call time, whatever the speed: Cdr and queue times are reported in it

    async def wait(self, seconds: float) -> None:
        self.elapsed += seconds
        await self.pbx.pause(seconds)

    def emit(self, event: str, privilege: str, *parts: Frame, **extra: str) -> None:
        frame: Frame = {"Event": event, "Privilege": privilege}
        for part in parts:
            frame.update(part)
        self.pbx.emit(frame | extra)

    def channel(self, tech: str, *, linkedid: str | None = None, uniqueid: str | None = None, **snapshot: Any) -> Chan:
        uid = uniqueid or self.pbx.new_uniqueid()
        chan = Chan(f"{tech}-{self.pbx.new_channel_suffix()}", uid, linkedid or uid, **snapshot)
        self.emit("Newchannel", "call,all", chan.fields())
        return chan

    def local_pair(self, target: str, *, linkedid: str | None = None, **snapshot: Any) -> tuple[Chan, Chan]:
        """`Local/<target>` as Asterisk creates it: the `;1` half (the side that was asked for) and the `;2` half
        (the side that runs the dialplan), one suffix, both created with the requester's Linkedid."""
        suffix = self.pbx.new_channel_suffix()
        halves: list[Chan] = []
        for half in (1, 2):
            uid = self.pbx.new_uniqueid()
            link = linkedid or (halves[0].linkedid if halves else uid)
            chan = Chan(f"Local/{target}-{suffix};{half}", uid, link, **snapshot)
            self.emit("Newchannel", "call,all", chan.fields())
            halves.append(chan)
        return halves[0], halves[1]

    def update(self, chan: Chan, event: str = "Newstate", **changes: Any) -> Chan:
        chan = replace(chan, **changes)
        self.emit(event, "call,all", chan.fields())
        return chan

    def exten(self, chan: Chan, app: str, data: str, priority: int | None = None) -> Chan:
        chan = replace(chan, priority=priority or chan.priority + 1)
        self.emit("Newexten", "dialplan,all", chan.fields(), Extension=chan.exten, Application=app, AppData=data)
        return chan

    def var(self, chan: Chan, variable: str, value: str) -> None:
        self.emit("VarSet", "dialplan,all", chan.fields(), Variable=variable, Value=value)

    def dial(self, event: str, caller: Chan | None, dest: Chan, **extra: str) -> None:
        """DialBegin/DialState/DialEnd; an Originate's own dial has no caller side (caller None)."""
        self.emit(event, "call,all", caller.fields() if caller else {}, dest.fields("Dest"), **extra)

    def queue(self, event: str, caller: Chan, dest: Chan | None = None, **extra: str) -> None:
        self.emit(event, "agent,all", caller.fields(), dest.fields("Dest") if dest else {}, **extra)

    def bridge(self) -> str:
        bridge_id = str(uuid.uuid4())
        self.emit("BridgeCreate", "call,all", bridge_frame(bridge_id, 0))
        return bridge_id

    def enter(self, bridge_id: str, chan: Chan, count: int, event: str = "BridgeEnter") -> None:
        self.emit(event, "call,all", bridge_frame(bridge_id, count), chan.fields())

    def hangup(self, chan: Chan, cause: int = 16) -> None:
        self.emit("Hangup", "call,all", chan.fields(), **{"Cause": str(cause), "Cause-txt": CAUSES.get(cause, "")})

    def cdr(self, chan: Chan, dest: Chan | None, disposition: str, answered_after: float | None, app: str) -> None:
        start, end = self.started, self.started + timedelta(seconds=self.elapsed)
        answer = start + timedelta(seconds=answered_after) if answered_after is not None else None
        self.emit("Cdr", "cdr,all", {
            "AccountCode": "", "Source": chan.num, "Destination": chan.exten, "DestinationContext": chan.context,
            "CallerID": f'"{chan.cid_name}" <{chan.num}>', "Channel": chan.name,
            "DestinationChannel": dest.name if dest else "", "LastApplication": app, "LastData": "",
            "StartTime": cdr_time(start), "AnswerTime": cdr_time(answer) if answer else "",
            "EndTime": cdr_time(end), "Duration": str(int(self.elapsed)),
            "BillableSeconds": str(int(self.elapsed - answered_after)) if answered_after is not None else "0",
            "Disposition": disposition, "AMAFlags": "DOCUMENTATION", "UniqueID": chan.uniqueid, "UserField": ""})


def bridge_frame(bridge_id: str, count: int) -> Frame:
    return {"BridgeUniqueid": bridge_id, "BridgeType": "basic", "BridgeTechnology": "simple_bridge",
            "BridgeCreator": "<unknown>", "BridgeName": "<unknown>", "BridgeNumChannels": str(count),
            "BridgeVideoSourceMode": "none"}


def cdr_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
