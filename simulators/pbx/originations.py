"""Calls placed by an AMI `Originate`: Switchboard's click-to-call, and calls placed by another tool.

Asterisk 22 opens an originated call with a `DialBegin` that has no caller side at all (no `Channel`, no
`CallerID*`: only the `Dest*` fields of the channel it rings first). For Switchboard's click-to-call that
channel is the operator's desk phone; a call placed from outside Switchboard (another tool's
`Originate`, a desk phone's speed dial) rings the operator through `Local/101@agents` and then dials the
client through `Local/<number>@customers`, the client's number being the Exten of that second dial.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from simulators.pbx.scenarios import end_bridged
from simulators.pbx.script import Script, bridge_frame

if TYPE_CHECKING:
    from simulators.pbx.server import SimulatedPbx
    from simulators.pbx.wire import Action

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
    variables = action.get("Variable") or []
    for assignment in [variables] if isinstance(variables, str) else variables:
        name_, _, value = str(assignment).partition("=")
        s.var(op, name_, value)          # Asterisk sets the Originate's variables on its first channel
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
    await end_bridged(s, op, out, bridge, pbx.originate_talk_seconds)
    return op.linkedid


def _parse_callerid(value: str) -> tuple[str, str]:
    """`"Name" <number>` → (name, number)."""
    match = re.match(r'\s*"?([^"<]*?)"?\s*<([^>]*)>', value)
    return (match.group(1).strip(), match.group(2).strip()) if match else ("", value.strip())


async def external_call(pbx: SimulatedPbx, *, extension: str = "101", number: str = "+79161234567",
                        name: str = "", outcome: str = "answered", ring_seconds: float = 0.0,
                        talk_seconds: float = 0.0) -> str:
    """Another tool's `Originate` of `Local/<extension>@agents` with `Application: Dial`,
    `Data: Local/<number>@customers` and the client as CallerID: the operator's phone rings first; answered,
    the operator's leg dials the client. `outcome`: "answered", "operator_no_answer" or "client_no_answer"."""
    s = Script(pbx)
    client_id = {"num": number, "cid_name": name or number}
    agent1, agent2 = s.local_pair(f"{extension}@agents", **client_id, context="agents", exten=extension)
    s.dial("DialBegin", None, agent1, DialString=f"{extension}@agents")
    agent2 = s.exten(agent2, "Dial", f"PJSIP/{extension},30", priority=1)
    desk = s.channel(f"PJSIP/{extension}", linkedid=agent1.linkedid, **client_id, context="agents", exten=extension)
    s.dial("DialBegin", agent2, desk, DialString=extension)
    desk = s.update(desk, state=5)
    s.dial("DialState", agent2, desk, DialStatus="RINGING")
    await s.wait(ring_seconds)
    if outcome == "operator_no_answer":
        s.dial("DialEnd", agent2, desk, DialStatus="NOANSWER")
        s.hangup(desk, 19)
        s.hangup(agent2, 19)
        s.dial("DialEnd", None, agent1, DialStatus="NOANSWER")
        s.hangup(agent1, 19)
        return agent1.linkedid
    desk = s.update(desk, state=6)
    s.dial("DialEnd", agent2, desk, DialStatus="ANSWER")
    inner = s.bridge()
    s.enter(inner, desk, 1)
    s.enter(inner, agent2, 2)
    agent1 = s.update(agent1, state=6)
    s.dial("DialEnd", None, agent1, DialStatus="ANSWER")
    agent1 = s.exten(agent1, "Dial", f"Local/{number}@customers", priority=1)
    cust1, cust2 = s.local_pair(f"{number}@customers", linkedid=agent1.linkedid, **client_id,
                                context="customers", exten=number)
    s.dial("DialBegin", agent1, cust1, DialString=f"{number}@customers")
    cust2 = s.exten(cust2, "Dial", f"PJSIP/{number}@trunk,60", priority=1)
    trunk = s.channel("PJSIP/trunk", linkedid=agent1.linkedid, **client_id, context="customers", exten=number)
    s.dial("DialBegin", cust2, trunk, DialString=f"{number}@trunk")
    trunk = s.update(trunk, state=5)
    s.dial("DialState", cust2, trunk, DialStatus="RINGING")
    await s.wait(ring_seconds)
    if outcome == "client_no_answer":
        s.dial("DialEnd", cust2, trunk, DialStatus="NOANSWER")
        s.hangup(trunk, 19)
        s.hangup(cust2, 19)
        s.dial("DialEnd", agent1, cust1, DialStatus="NOANSWER")
        s.hangup(cust1, 19)
        for chan in (agent1, agent2, desk):
            s.hangup(chan)
        s.cdr(agent1, cust1, "NO ANSWER", None, "Dial")
        return agent1.linkedid
    trunk = s.update(trunk, state=6)
    s.dial("DialEnd", cust2, trunk, DialStatus="ANSWER")
    far = s.bridge()
    s.enter(far, trunk, 1)
    s.enter(far, cust2, 2)
    cust1 = s.update(cust1, state=6)
    s.dial("DialEnd", agent1, cust1, DialStatus="ANSWER")
    near = s.bridge()
    s.enter(near, cust1, 1)
    s.enter(near, agent1, 2)
    answered_after = s.elapsed
    await s.wait(talk_seconds)
    for bridge, chans in ((far, (trunk, cust2)), (near, (cust1, agent1)), (inner, (desk, agent2))):
        for left, chan in enumerate(chans):
            s.enter(bridge, chan, 1 - left, "BridgeLeave")
            s.hangup(chan)
        s.emit("BridgeDestroy", "call,all", bridge_frame(bridge, 0))
    s.cdr(agent1, cust1, "ANSWERED", answered_after, "Dial")
    return agent1.linkedid
