"""What calls look like on the simulated PBX's wire: recordings replayed with fresh ids, and synthetic calls.

Synthetic calls are written in the style of the recordings in ../shared/ami (Asterisk 22): the caller on a
trunk (`PJSIP/pstn-…`), desk phones as `PJSIP/101-…`, every leg of a call sharing the caller's Linkedid,
the same fields in the same order. Each scenario returns the call's Linkedid once the call has ended.
"""
from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels.asterisk.simulated_pbx import Action, Frame, SimulatedPbx

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
        self.emit("BridgeCreate", "call,all", _bridge(bridge_id, 0))
        return bridge_id

    def enter(self, bridge_id: str, chan: Chan, count: int, event: str = "BridgeEnter") -> None:
        self.emit(event, "call,all", _bridge(bridge_id, count), chan.fields())

    def hangup(self, chan: Chan, cause: int = 16) -> None:
        self.emit("Hangup", "call,all", chan.fields(), **{"Cause": str(cause), "Cause-txt": CAUSES.get(cause, "")})

    def cdr(self, chan: Chan, dest: Chan | None, disposition: str, answered_after: float | None, app: str) -> None:
        start, end = self.started, self.started + timedelta(seconds=self.elapsed)
        answer = start + timedelta(seconds=answered_after) if answered_after is not None else None
        self.emit("Cdr", "cdr,all", {
            "AccountCode": "", "Source": chan.num, "Destination": chan.exten, "DestinationContext": chan.context,
            "CallerID": f'"{chan.cid_name}" <{chan.num}>', "Channel": chan.name,
            "DestinationChannel": dest.name if dest else "", "LastApplication": app, "LastData": "",
            "StartTime": _cdr_time(start), "AnswerTime": _cdr_time(answer) if answer else "",
            "EndTime": _cdr_time(end), "Duration": str(int(self.elapsed)),
            "BillableSeconds": str(int(self.elapsed - answered_after)) if answered_after is not None else "0",
            "Disposition": disposition, "AMAFlags": "DOCUMENTATION", "UniqueID": chan.uniqueid, "UserField": ""})


def _bridge(bridge_id: str, count: int) -> Frame:
    return {"BridgeUniqueid": bridge_id, "BridgeType": "basic", "BridgeTechnology": "simple_bridge",
            "BridgeCreator": "<unknown>", "BridgeName": "<unknown>", "BridgeNumChannels": str(count),
            "BridgeVideoSourceMode": "none"}


def _cdr_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# -- the pieces of an inbound call -----------------------------------------------------------------------


def _inbound(s: Script, caller: str, caller_name: str, did: str, recording: str | None) -> Chan:
    """The client's call arriving on the trunk and answered by the dialplan."""
    chan = s.channel("PJSIP/pstn", num=caller, cid_name=caller_name or caller, state=4, context="from-pstn", exten=did)
    chan = s.exten(chan, "Answer", "", priority=1)
    chan = s.update(chan, state=6)
    if recording:
        chan = s.exten(chan, "MixMonitor", f"{recording},b")
        s.var(chan, "MIXMONITOR_FILENAME", recording)
    return chan


def _ring(s: Script, caller: Chan, extension: str, queue: str | None) -> Chan:
    """A desk phone rung for the caller: its channel, (AgentCalled), DialBegin, Ringing, DialState RINGING."""
    leg = s.channel(f"PJSIP/{extension}", linkedid=caller.linkedid, context="from-internal", exten=extension)
    leg = s.update(leg, "NewCallerid", num=caller.num, cid_name=caller.cid_name)
    leg = s.update(leg, "NewConnectedLine", conn_num=caller.num, conn_name=caller.cid_name)
    if queue:
        s.queue("AgentCalled", caller, leg, Queue=queue, Interface=f"PJSIP/{extension}",
                MemberName=_member_name(s.pbx, queue, extension))
    s.dial("DialBegin", caller, leg, DialString=f"PJSIP/{extension}" if queue else extension)
    leg = s.update(leg, state=5)
    s.dial("DialState", caller, leg, DialStatus="RINGING")
    return leg


def _member_name(pbx: SimulatedPbx, queue: str, extension: str) -> str:
    for member in pbx.queues.get(queue, []):
        if member.interface == f"PJSIP/{extension}":
            return member.name
    return f"Agent {extension}"


def _stop(s: Script, caller: Chan, leg: Chan, status: str, cause: int) -> None:
    s.dial("DialEnd", caller, leg, DialStatus=status)
    s.hangup(leg, cause)


async def _talk_and_end(s: Script, caller: Chan, agent: Chan, queue: str | None, hold: float, answered_at: float,
                        talk_seconds: float) -> None:
    """The answered part: bridge, talk, the agent hangs up, the caller's side follows."""
    bridge = s.bridge()
    s.enter(bridge, agent, 1)
    s.enter(bridge, caller, 2)
    await s.wait(talk_seconds)
    if queue:
        s.queue("AgentComplete", caller, agent, Queue=queue, Interface=f"PJSIP/{_ext(agent)}",
                MemberName=_member_name(s.pbx, queue, _ext(agent)), HoldTime=str(int(hold)),
                TalkTime=str(int(talk_seconds)), Reason="agent")
    s.enter(bridge, agent, 1, "BridgeLeave")
    s.hangup(agent)
    s.enter(bridge, caller, 0, "BridgeLeave")
    s.emit("BridgeDestroy", "call,all", _bridge(bridge, 0))
    s.hangup(caller)
    s.cdr(caller, agent, "ANSWERED", answered_at, "Queue" if queue else "Dial")


def _ext(chan: Chan) -> str:
    return chan.name.split("/", 1)[1].rsplit("-", 1)[0]


async def _answer(s: Script, caller: Chan, winner: Chan, others: Sequence[Chan], queue: str | None,
                  ring: float, talk_seconds: float) -> None:
    winner = s.update(winner, state=6)
    s.dial("DialEnd", caller, winner, DialStatus="ANSWER")
    for other in others:      # Asterisk publishes the winner's ANSWER first, then cancels the rest
        _stop(s, caller, other, "CANCEL", 26)
    hold = s.elapsed
    if queue:
        s.queue("QueueCallerLeave", caller, Queue=queue, Position="1", Count="0")
        s.queue("AgentConnect", caller, winner, Queue=queue, Interface=f"PJSIP/{_ext(winner)}",
                MemberName=_member_name(s.pbx, queue, _ext(winner)), HoldTime=str(int(hold)), RingTime=str(int(ring)))
    await _talk_and_end(s, caller, winner, queue, hold, s.elapsed, talk_seconds)


# -- scenarios -------------------------------------------------------------------------------------------


async def queue_call(pbx: SimulatedPbx, *, caller: str = "+74951234567", caller_name: str = "", did: str = "6000",
                     queue: str = "sales", extensions: Sequence[str] = ("101",), answered_by: str | None = None,
                     ring_together: bool = False, answered: bool = True, wait_seconds: float = 0.0,
                     ring_seconds: float = 0.0, talk_seconds: float = 0.0, recording: str | None = None) -> str:
    """A trunk call into `queue`. The phones ring one after another (each no-answer rolls over to the next) or,
    with `ring_together`, all at once; `answered_by` (default: the last rung) picks up unless `answered` is False,
    in which case the caller gives up while the (last) phones ring."""
    s = Script(pbx)
    chan = _inbound(s, caller, caller_name, did, recording)
    chan = s.exten(chan, "Queue", f"{queue},r")
    s.queue("QueueCallerJoin", chan, Queue=queue, Position="1", Count=str(len(pbx.waiting.get(queue, {})) + 1))
    await s.wait(wait_seconds)
    groups = [list(extensions)] if ring_together else [[e] for e in extensions]
    winner_ext = answered_by or (extensions[-1] if extensions else None)
    for number, group in enumerate(groups):
        legs = [_ring(s, chan, ext, queue) for ext in group]
        await s.wait(ring_seconds)
        winner = next((leg for leg in legs if _ext(leg) == winner_ext), None)
        last = number == len(groups) - 1
        if answered and winner is not None:
            losers = [leg for leg in legs if leg is not winner]
            await _answer(s, chan, winner, losers, queue, ring_seconds, talk_seconds)
            return chan.linkedid
        if not answered and last:
            return await _abandon(s, chan, legs, queue)
        for leg in legs:
            s.queue("AgentRingNoAnswer", chan, leg, Queue=queue, Interface=f"PJSIP/{_ext(leg)}",
                    MemberName=_member_name(pbx, queue, _ext(leg)), RingTime=str(int(ring_seconds * 1000)))
            _stop(s, chan, leg, "NOANSWER", 19)
    return await _abandon(s, chan, [], queue)


async def _abandon(s: Script, caller: Chan, ringing: Sequence[Chan], queue: str) -> str:
    """The caller hangs up while waiting: QueueCallerAbandon before the caller's Hangup, the rung phones cancelled."""
    s.queue("QueueCallerAbandon", caller, Queue=queue, Position="1", OriginalPosition="1", HoldTime=str(int(s.elapsed)))
    for leg in ringing:
        _stop(s, caller, leg, "CANCEL", 16)
    s.hangup(caller)
    s.cdr(caller, None, "ANSWERED", 0.0, "Queue")
    return caller.linkedid


async def ring_all(pbx: SimulatedPbx, *, extensions: Sequence[str] = ("101", "102"), answered_by: str | None = None,
                   **kwargs: Any) -> str:
    """Every phone of the queue rings at once; `answered_by` (default the first) picks up, the rest are cancelled."""
    return await queue_call(pbx, extensions=extensions, answered_by=answered_by or extensions[0], ring_together=True,
                            **kwargs)


async def rollover(pbx: SimulatedPbx, *, extensions: Sequence[str] = ("101", "102"), **kwargs: Any) -> str:
    """Ring-no-answer: each phone but the last rings out (AgentRingNoAnswer), the last one answers."""
    return await queue_call(pbx, extensions=extensions, answered_by=extensions[-1], **kwargs)


async def abandoned(pbx: SimulatedPbx, *, extensions: Sequence[str] = ("101",), **kwargs: Any) -> str:
    """A queue call whose caller hangs up while an agent's phone rings."""
    return await queue_call(pbx, extensions=extensions, answered=False, **kwargs)


async def direct_call(pbx: SimulatedPbx, *, caller: str = "+74951234567", caller_name: str = "", did: str = "6001",
                      extension: str = "101", answered: bool = True, ring_seconds: float = 0.0,
                      talk_seconds: float = 0.0, recording: str | None = None) -> str:
    """`Dial(PJSIP/<extension>)` without a queue: answered, or NOANSWER when the phone rings out."""
    s = Script(pbx)
    chan = _inbound(s, caller, caller_name, did, recording)
    chan = s.exten(chan, "Dial", f"PJSIP/{extension},30")
    leg = _ring(s, chan, extension, None)
    await s.wait(ring_seconds)
    if answered:
        await _answer(s, chan, leg, [], None, ring_seconds, talk_seconds)
    else:
        _stop(s, chan, leg, "NOANSWER", 19)
        s.hangup(chan)
        s.cdr(chan, leg, "NO ANSWER", None, "Dial")
    return chan.linkedid


async def _answered_by(s: Script, caller: str, caller_name: str, did: str, extension: str,
                       ring_seconds: float) -> tuple[Chan, Chan, str]:
    """A direct call answered at `extension`, left talking: (caller, agent leg, bridge)."""
    chan = _inbound(s, caller, caller_name, did, None)
    chan = s.exten(chan, "Dial", f"PJSIP/{extension},30")
    leg = _ring(s, chan, extension, None)
    await s.wait(ring_seconds)
    leg = s.update(leg, state=6)
    s.dial("DialEnd", chan, leg, DialStatus="ANSWER")
    bridge = s.bridge()
    s.enter(bridge, leg, 1)
    s.enter(bridge, chan, 2)
    return chan, leg, bridge


async def _end_bridged(s: Script, caller: Chan, agent: Chan, bridge: str, talk_seconds: float) -> None:
    await s.wait(talk_seconds)
    s.enter(bridge, agent, 1, "BridgeLeave")
    s.hangup(agent)
    s.enter(bridge, caller, 0, "BridgeLeave")
    s.emit("BridgeDestroy", "call,all", _bridge(bridge, 0))
    s.hangup(caller)
    s.cdr(caller, agent, "ANSWERED", 0.0, "Dial")


async def blind_transfer(pbx: SimulatedPbx, *, caller: str = "+74951234567", caller_name: str = "", did: str = "6001",
                         extension: str = "101", target: str = "102", ring_seconds: float = 0.0,
                         talk_seconds: float = 0.0) -> str:
    """Answered at `extension`, blind-transferred to `target`: the caller's channel dials the target itself."""
    s = Script(pbx)
    chan, leg, bridge = await _answered_by(s, caller, caller_name, did, extension, ring_seconds)
    await s.wait(talk_seconds)
    s.emit("BlindTransfer", "call,all", {"Result": "Success"}, leg.fields("Transferer"), chan.fields("Transferee"),
           _bridge(bridge, 2), IsExternal="No", Context="from-internal", Extension=target)
    s.enter(bridge, leg, 1, "BridgeLeave")
    s.hangup(leg)
    s.enter(bridge, chan, 0, "BridgeLeave")
    s.emit("BridgeDestroy", "call,all", _bridge(bridge, 0))
    chan = replace(chan, context="from-internal", exten=target, priority=1)
    chan = s.exten(chan, "Dial", f"PJSIP/{target},30", priority=1)
    second = _ring(s, chan, target, None)
    await s.wait(ring_seconds)
    second = s.update(second, state=6)
    s.dial("DialEnd", chan, second, DialStatus="ANSWER")
    bridge = s.bridge()
    s.enter(bridge, second, 1)
    s.enter(bridge, chan, 2)
    await _end_bridged(s, chan, second, bridge, talk_seconds)
    return chan.linkedid


async def attended_transfer(pbx: SimulatedPbx, *, caller: str = "+74951234567", caller_name: str = "",
                            did: str = "6001", extension: str = "101", target: str = "102",
                            ring_seconds: float = 0.0, talk_seconds: float = 0.0) -> str:
    """Answered at `extension`, who consults `target` on a second line (its own Linkedid) and then joins the
    caller and the target: AttendedTransfer, the transferer's two channels hang up, the two others talk."""
    s = Script(pbx)
    chan, leg, bridge = await _answered_by(s, caller, caller_name, did, extension, ring_seconds)
    await s.wait(talk_seconds)
    consult = s.channel(f"PJSIP/{extension}", num=extension, cid_name=f"Agent {extension}", state=4,
                        context="from-internal", exten=target)
    consult = s.exten(consult, "Dial", f"PJSIP/{target},30", priority=1)
    other = _ring(s, consult, target, None)
    await s.wait(ring_seconds)
    other = s.update(other, state=6)
    s.dial("DialEnd", consult, other, DialStatus="ANSWER")
    second = s.bridge()
    s.enter(second, other, 1)
    s.enter(second, consult, 2)
    await s.wait(talk_seconds)
    s.emit("AttendedTransfer", "call,all", {"Result": "Success"}, leg.fields("OrigTransferer"),
           {f"Orig{k}": v for k, v in _bridge(bridge, 2).items()}, consult.fields("SecondTransferer"),
           {f"Second{k}": v for k, v in _bridge(second, 2).items()}, chan.fields("Transferee"),
           other.fields("TransferTarget"), DestType="Bridge", DestBridgeUniqueid=bridge, IsExternal="No")
    s.enter(bridge, leg, 1, "BridgeLeave")
    s.enter(second, other, 1, "BridgeLeave")
    s.enter(bridge, other, 2)
    s.enter(second, consult, 0, "BridgeLeave")
    s.emit("BridgeDestroy", "call,all", _bridge(second, 0))
    s.hangup(leg)
    s.hangup(consult)
    await _end_bridged(s, chan, other, bridge, talk_seconds)
    return chan.linkedid


# -- click-to-call -----------------------------------------------------------------------------------------


# The operator's phone not taking the Originate: (DialStatus, hangup cause, OriginateResponse Reason).
_OPERATOR_FAILS = {"operator_no_answer": ("NOANSWER", 19, "3"), "operator_busy": ("BUSY", 17, "5")}


async def click_to_call(pbx: SimulatedPbx, action: Action) -> str:
    """An Originate: the operator's phone rings first; answered, it dials the client out through the trunk."""
    s = Script(pbx)
    device = str(action.get("Channel", "PJSIP/101"))
    name, num = _parse_callerid(str(action.get("CallerID", "")))
    number = str(action.get("Exten", ""))
    channel_id = str(action.get("ChannelId") or "") or None
    op = s.channel(device, uniqueid=channel_id, num=num or number, cid_name=name or num or number,
                   context=str(action.get("Context", "from-internal")), exten=number)
    s.dial("DialBegin", None, op, DialString=device.split("/", 1)[-1])
    op = s.update(op, state=5)
    await s.wait(pbx.originate_ring_seconds)
    response = {"ActionID": str(action.get("ActionID", ""))}
    if pbx.originate_outcome in _OPERATOR_FAILS:
        status, cause, reason = _OPERATOR_FAILS[pbx.originate_outcome]
        s.dial("DialEnd", None, op, DialStatus=status)
        s.hangup(op, cause)
        s.emit("OriginateResponse", "call,all", response, Response="Failure", Channel=device,
               Context=op.context, Exten=number, Reason=reason, Uniqueid="<null>", CallerIDNum=op.num,
               CallerIDName=op.cid_name)
        return op.linkedid
    op = s.update(op, state=6)
    s.dial("DialEnd", None, op, DialStatus="ANSWER")
    s.emit("OriginateResponse", "call,all", response, Response="Success", Channel=op.name, Context=op.context,
           Exten=number, Reason="4", Uniqueid=op.uniqueid, CallerIDNum=op.num, CallerIDName=op.cid_name)
    op = s.exten(op, "Dial", f"PJSIP/{number}@trunk,60", priority=1)
    out = s.channel("PJSIP/trunk", linkedid=op.linkedid, num=op.num, cid_name=op.cid_name, context="from-trunk",
                    exten=number)
    s.dial("DialBegin", op, out, DialString=f"{number}@trunk")
    out = s.update(out, state=5)
    s.dial("DialState", op, out, DialStatus="RINGING")
    await s.wait(pbx.originate_ring_seconds)
    if pbx.originate_outcome == "client_no_answer":
        s.dial("DialEnd", op, out, DialStatus="NOANSWER")
        s.hangup(out, 19)
        s.hangup(op)
        s.cdr(op, out, "NO ANSWER", None, "Dial")
        return op.linkedid
    out = s.update(out, state=6)
    s.dial("DialEnd", op, out, DialStatus="ANSWER")
    bridge = s.bridge()
    s.enter(bridge, out, 1)
    s.enter(bridge, op, 2)
    await _end_bridged(s, op, out, bridge, pbx.originate_talk_seconds)
    return op.linkedid


def _parse_callerid(value: str) -> tuple[str, str]:
    """`"Name" <number>` → (name, number)."""
    match = re.match(r'\s*"?([^"<]*?)"?\s*<([^>]*)>', value)
    return (match.group(1).strip(), match.group(2).strip()) if match else ("", value.strip())


# -- replaying a recording ------------------------------------------------------------------------------------

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
    if event == "Newchannel" and _ID.match(uid):
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
            return _cdr_time(datetime.fromtimestamp(_cdr_epoch(value) + self.shift, UTC))
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


# -- the demo ---------------------------------------------------------------------------------------------------

_FIRST = ("Иван", "Анна", "Сергей", "Ольга", "Дмитрий", "Мария", "Алексей", "Екатерина", "Николай", "Татьяна")
_LAST = ("Петров", "Смирнова", "Кузнецов", "Иванова", "Соколов", "Попова", "Лебедев", "Новикова", "Морозов", "Волкова")


def _someone(rng: random.Random) -> tuple[str, str]:
    # The name lists alternate male/female; a surname takes the first name's gender.
    first = rng.randrange(len(_FIRST))
    last = rng.randrange(len(_LAST) // 2) * 2 + first % 2
    return f"+79{rng.randrange(10**9):09d}", f"{_FIRST[first]} {_LAST[last]}"


async def demo_calls(pbx: SimulatedPbx, *, every_seconds: float = 20.0, rng: random.Random | None = None) -> None:
    """Forever: a realistic mix of calls (answered, abandoned, ring-all, rollover) at about one per `every_seconds`."""
    rng = rng or random.Random()
    while True:
        kind = rng.choice(("answered", "answered", "abandoned", "ring_all", "rollover"))
        number, name = _someone(rng)
        timing = {"caller": number, "caller_name": name, "ring_seconds": rng.uniform(2, 6),
                  "talk_seconds": rng.uniform(8, 40)}
        if kind == "answered":
            pbx.spawn(queue_call(pbx, extensions=[rng.choice(("101", "102"))], **timing))
        elif kind == "abandoned":
            pbx.spawn(abandoned(pbx, wait_seconds=rng.uniform(1, 5), **timing))
        elif kind == "ring_all":
            pbx.spawn(ring_all(pbx, answered_by=rng.choice(("101", "102")), **timing))
        else:
            pbx.spawn(rollover(pbx, **timing))
        await pbx.pause(rng.expovariate(1 / every_seconds))
