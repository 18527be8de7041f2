"""Transfers as Asterisk 22 plays them on the wire: blind (`#`/BlindTransfer) and attended (feature `*2`).

Attended, the way a real Asterisk 22.10 does it with the `atxfer` feature: the operator's own leg stays the
only transferer channel (AttendedTransfer's OrigTransferer = SecondTransferer); the colleague is reached
through a Local channel into the transfer context (`Local/102@xfer-targets-…;1/;2`) that keeps the
client call's Linkedid, so the consultation is part of the client's call, not a call of its own. On
completion the Local pair is optimised away and the colleague's phone ends up in the client's bridge.
A consultation can also end without a transfer: the colleague does not answer, or the operator takes
the client back (`atxferabort`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from simulators.pbx.scenarios import (
    end_bridged, ext_of, inbound, member_name, ring, ring_and_answer, stop,
)
from simulators.pbx.script import Chan, Script, bridge_frame

if TYPE_CHECKING:
    from simulators.pbx.server import SimulatedPbx

TRANSFERRED, NO_ANSWER, TAKEN_BACK = "transferred", "no_answer", "taken_back"


@dataclass(frozen=True, slots=True)
class _Answered:
    caller: Chan
    agent: Chan
    bridge: str
    queue: str | None
    hold: float            # call time the client waited before the agent answered


async def _answered(s: Script, caller: str, caller_name: str, did: str, extension: str, queue: str | None,
                    ring_seconds: float) -> _Answered:
    """An inbound call (direct `Dial`, or through `queue`) answered at `extension` and bridged."""
    chan = inbound(s, caller, caller_name, did, None)
    if queue is None:
        chan = s.exten(chan, "Dial", f"PJSIP/{extension},30")
        leg, bridge = await ring_and_answer(s, chan, extension, ring_seconds)
        return _Answered(chan, leg, bridge, None, s.elapsed)
    chan = s.exten(chan, "Queue", f"{queue},t")
    s.queue("QueueCallerJoin", chan, Queue=queue, Position="1", Count=str(len(s.pbx.waiting.get(queue, {})) + 1))
    leg = ring(s, chan, extension, queue)
    await s.wait(ring_seconds)
    leg = s.update(leg, state=6)
    s.dial("DialEnd", chan, leg, DialStatus="ANSWER")
    s.queue("QueueCallerLeave", chan, Queue=queue, Position="1", Count="0")
    s.queue("AgentConnect", chan, leg, Queue=queue, Interface=f"PJSIP/{extension}",
            MemberName=member_name(s.pbx, queue, extension), HoldTime=str(int(s.elapsed)),
            RingTime=str(int(ring_seconds)))
    bridge = s.bridge()
    s.enter(bridge, leg, 1)
    s.enter(bridge, chan, 2)
    return _Answered(chan, leg, bridge, queue, s.elapsed)


def _agent_complete(s: Script, call: _Answered, reason: str, talked: float) -> None:
    if call.queue:
        extension = ext_of(call.agent)
        s.queue("AgentComplete", call.caller, call.agent, Queue=call.queue, Interface=f"PJSIP/{extension}",
                MemberName=member_name(s.pbx, call.queue, extension), HoldTime=str(int(call.hold)),
                TalkTime=str(int(talked)), Reason=reason)


async def blind_transfer(pbx: SimulatedPbx, *, caller: str = "+74951234567", caller_name: str = "", did: str = "6001",
                         extension: str = "101", target: str = "102", queue: str | None = None,
                         ring_seconds: float = 0.0, talk_seconds: float = 0.0) -> str:
    """Answered at `extension` (through `queue` if given), blind-transferred to `target`: the caller's channel
    dials the target itself; a queue member's AgentComplete says Reason: transfer."""
    s = Script(pbx)
    call = await _answered(s, caller, caller_name, did, extension, queue, ring_seconds)
    chan, leg, bridge = call.caller, call.agent, call.bridge
    await s.wait(talk_seconds)
    s.emit("BlindTransfer", "call,all", {"Result": "Success"}, leg.fields("Transferer"), chan.fields("Transferee"),
           bridge_frame(bridge, 2), IsExternal="No", Context="from-internal", Extension=target)
    _agent_complete(s, call, "transfer", talk_seconds)
    s.enter(bridge, leg, 1, "BridgeLeave")
    s.hangup(leg)
    s.enter(bridge, chan, 0, "BridgeLeave")
    s.emit("BridgeDestroy", "call,all", bridge_frame(bridge, 0))
    chan = replace(chan, context="from-internal", exten=target, priority=1)
    chan = s.exten(chan, "Dial", f"PJSIP/{target},30", priority=1)
    second, bridge = await ring_and_answer(s, chan, target, ring_seconds)
    await end_bridged(s, chan, second, bridge, talk_seconds)
    return chan.linkedid


async def attended_transfer(pbx: SimulatedPbx, *, caller: str = "+74951234567", caller_name: str = "",
                            did: str = "6001", extension: str = "101", target: str = "102", queue: str | None = None,
                            ring_seconds: float = 0.0, talk_seconds: float = 0.0, consult_seconds: float = 0.0,
                            outcome: str = TRANSFERRED, target_channel_field: bool = True) -> str:
    """Answered at `extension` (through `queue` if given), who consults `target` with the `*2` feature.

    `outcome`: "transferred" (the operator hangs up: the colleague has the client), "no_answer" (the colleague's
    phone rings out: the client is the operator's again) or "taken_back" (the colleague answered, the operator
    aborts and takes the client back). `target_channel_field=False` leaves TransferTarget* out of
    AttendedTransfer, as Asterisk sometimes does."""
    s = Script(pbx)
    call = await _answered(s, caller, caller_name, did, extension, queue, ring_seconds)
    chan, leg, bridge = call.caller, call.agent, call.bridge
    await s.wait(talk_seconds)
    first_talk = talk_seconds
    # *2: the client is held in the original bridge, the operator's leg dials the transfer context.
    s.emit("MusicOnHoldStart", "call,all", chan.fields(), Class="default")
    s.enter(bridge, leg, 1, "BridgeLeave")
    half1, half2 = s.local_pair(f"{target}@xfer-targets", linkedid=chan.linkedid, num=ext_of(leg),
                                cid_name=f"Agent {ext_of(leg)}", context="xfer-targets", exten=target)
    half2 = s.exten(half2, "Dial", f"PJSIP/{target},30", priority=1)
    colleague = ring(s, half2, target, None)
    await s.wait(ring_seconds)
    if outcome == NO_ANSWER:
        stop(s, half2, colleague, "NOANSWER", 19)
        s.hangup(half2)
        s.hangup(half1)
        await _back_to_the_client(s, call, first_talk + ring_seconds, talk_seconds)
        return chan.linkedid
    colleague = s.update(colleague, state=6)
    s.dial("DialEnd", half2, colleague, DialStatus="ANSWER")
    far = s.bridge()
    s.enter(far, colleague, 1)
    s.enter(far, half2, 2)
    half1 = s.update(half1, state=6)
    consult = s.bridge()
    s.enter(consult, leg, 1)
    s.enter(consult, half1, 2)
    await s.wait(consult_seconds)
    if outcome == TAKEN_BACK:
        s.enter(consult, half1, 1, "BridgeLeave")
        s.enter(consult, leg, 0, "BridgeLeave")
        s.emit("BridgeDestroy", "call,all", bridge_frame(consult, 0))
        s.hangup(half1)
        s.enter(far, colleague, 1, "BridgeLeave")
        s.hangup(colleague)
        s.enter(far, half2, 0, "BridgeLeave")
        s.emit("BridgeDestroy", "call,all", bridge_frame(far, 0))
        s.hangup(half2)
        await _back_to_the_client(s, call, first_talk + ring_seconds + consult_seconds, talk_seconds)
        return chan.linkedid
    s.emit("AttendedTransfer", "call,all", {"Result": "Success"}, leg.fields("OrigTransferer"),
           {f"Orig{k}": v for k, v in bridge_frame(bridge, 1).items()}, leg.fields("SecondTransferer"),
           {f"Second{k}": v for k, v in bridge_frame(consult, 2).items()}, chan.fields("Transferee"),
           half1.fields("TransferTarget") if target_channel_field else {},
           DestType="Bridge", DestBridgeUniqueid=bridge, IsExternal="No")
    _agent_complete(s, call, "transfer", first_talk + ring_seconds + consult_seconds)
    s.enter(consult, leg, 1, "BridgeLeave")
    s.enter(consult, half1, 0, "BridgeLeave")
    s.emit("BridgeDestroy", "call,all", bridge_frame(consult, 0))
    s.enter(bridge, half1, 2)
    s.emit("MusicOnHoldStop", "call,all", chan.fields())
    s.hangup(leg)
    # The Local pair is optimised away: the colleague's phone swaps into the client's bridge.
    s.emit("LocalOptimizationBegin", "call,all", half1.fields("LocalOne"), half2.fields("LocalTwo"),
           colleague.fields("Source"), DestUniqueId=half1.uniqueid, Id="1")
    s.enter(far, colleague, 1, "BridgeLeave")
    s.enter(bridge, colleague, 3)
    s.enter(bridge, half1, 2, "BridgeLeave")
    s.enter(far, half2, 0, "BridgeLeave")
    s.emit("LocalOptimizationEnd", "call,all", half1.fields("LocalOne"), half2.fields("LocalTwo"),
           Success="Yes", Id="1")
    s.hangup(half1)
    s.hangup(half2)
    s.emit("BridgeDestroy", "call,all", bridge_frame(far, 0))
    await end_bridged(s, chan, colleague, bridge, talk_seconds, call.hold)
    return chan.linkedid


async def _back_to_the_client(s: Script, call: _Answered, talked: float, talk_seconds: float) -> None:
    """The consultation is over without a transfer: the operator rejoins the client, talks on, hangs up."""
    s.enter(call.bridge, call.agent, 2)
    s.emit("MusicOnHoldStop", "call,all", call.caller.fields())
    await s.wait(talk_seconds)
    _agent_complete(s, call, "agent", talked + talk_seconds)
    await end_bridged(s, call.caller, call.agent, call.bridge, 0.0, call.hold)
