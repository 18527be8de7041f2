"""Synthetic calls on the simulated PBX's wire: the sequences the recordings do not show.

Synthetic calls are written in the style of the recordings in recordings/ (Asterisk 22.10): the caller on a
trunk (`PJSIP/pstn-…`), desk phones as `PJSIP/101-…`, every leg of a call sharing the caller's Linkedid,
the same fields in the same order. Each scenario returns the call's Linkedid once the call has ended.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from simulators.pbx.script import Chan, Script, bridge_frame

if TYPE_CHECKING:
    from simulators.pbx.server import SimulatedPbx

# -- the pieces of an inbound call -----------------------------------------------------------------------


def inbound(s: Script, caller: str, caller_name: str, did: str, recording: str | None) -> Chan:
    """The client's call arriving on the trunk and answered by the dialplan."""
    chan = s.channel("PJSIP/pstn", num=caller, cid_name=caller_name or caller, state=4, context="from-pstn", exten=did)
    chan = s.exten(chan, "Answer", "", priority=1)
    chan = s.update(chan, state=6)
    if recording:
        chan = s.exten(chan, "MixMonitor", f"{recording},b")
        s.var(chan, "MIXMONITOR_FILENAME", recording)
    return chan


def ring(s: Script, caller: Chan, extension: str, queue: str | None) -> Chan:
    """A desk phone rung for the caller: its channel, (AgentCalled), DialBegin, Ringing, DialState RINGING."""
    leg = s.channel(f"PJSIP/{extension}", linkedid=caller.linkedid, context="from-internal", exten=extension)
    leg = s.update(leg, "NewCallerid", num=caller.num, cid_name=caller.cid_name)
    leg = s.update(leg, "NewConnectedLine", conn_num=caller.num, conn_name=caller.cid_name)
    if queue:
        s.queue("AgentCalled", caller, leg, Queue=queue, Interface=f"PJSIP/{extension}",
                MemberName=member_name(s.pbx, queue, extension))
    s.dial("DialBegin", caller, leg, DialString=f"PJSIP/{extension}" if queue else extension)
    leg = s.update(leg, state=5)
    s.dial("DialState", caller, leg, DialStatus="RINGING")
    return leg


def member_name(pbx: SimulatedPbx, queue: str, extension: str) -> str:
    for member in pbx.queues.get(queue, []):
        if member.interface == f"PJSIP/{extension}":
            return member.name
    return f"Agent {extension}"


def stop(s: Script, caller: Chan, leg: Chan, status: str, cause: int) -> None:
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
        s.queue("AgentComplete", caller, agent, Queue=queue, Interface=f"PJSIP/{ext_of(agent)}",
                MemberName=member_name(s.pbx, queue, ext_of(agent)), HoldTime=str(int(hold)),
                TalkTime=str(int(talk_seconds)), Reason="agent")
    s.enter(bridge, agent, 1, "BridgeLeave")
    s.hangup(agent)
    s.enter(bridge, caller, 0, "BridgeLeave")
    s.emit("BridgeDestroy", "call,all", bridge_frame(bridge, 0))
    s.hangup(caller)
    s.cdr(caller, agent, "ANSWERED", answered_at, "Queue" if queue else "Dial")


def ext_of(chan: Chan) -> str:
    return chan.name.split("/", 1)[1].rsplit("-", 1)[0]


async def _answer(s: Script, caller: Chan, winner: Chan, others: Sequence[Chan], queue: str | None,
                  ring: float, talk_seconds: float) -> None:
    winner = s.update(winner, state=6)
    s.dial("DialEnd", caller, winner, DialStatus="ANSWER")
    for other in others:      # Asterisk publishes the winner's ANSWER first, then cancels the rest
        stop(s, caller, other, "CANCEL", 26)
    hold = s.elapsed
    if queue:
        s.queue("QueueCallerLeave", caller, Queue=queue, Position="1", Count="0")
        s.queue("AgentConnect", caller, winner, Queue=queue, Interface=f"PJSIP/{ext_of(winner)}",
                MemberName=member_name(s.pbx, queue, ext_of(winner)), HoldTime=str(int(hold)), RingTime=str(int(ring)))
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
    chan = inbound(s, caller, caller_name, did, recording)
    chan = s.exten(chan, "Queue", f"{queue},r")
    s.queue("QueueCallerJoin", chan, Queue=queue, Position="1", Count=str(len(pbx.waiting.get(queue, {})) + 1))
    await s.wait(wait_seconds)
    groups = [list(extensions)] if ring_together else [[e] for e in extensions]
    winner_ext = answered_by or (extensions[-1] if extensions else None)
    for number, group in enumerate(groups):
        legs = [ring(s, chan, ext, queue) for ext in group]
        await s.wait(ring_seconds)
        winner = next((leg for leg in legs if ext_of(leg) == winner_ext), None)
        last = number == len(groups) - 1
        if answered and winner is not None:
            losers = [leg for leg in legs if leg is not winner]
            await _answer(s, chan, winner, losers, queue, ring_seconds, talk_seconds)
            return chan.linkedid
        if not answered and last:
            return await _abandon(s, chan, legs, queue)
        for leg in legs:
            s.queue("AgentRingNoAnswer", chan, leg, Queue=queue, Interface=f"PJSIP/{ext_of(leg)}",
                    MemberName=member_name(pbx, queue, ext_of(leg)), RingTime=str(int(ring_seconds * 1000)))
            stop(s, chan, leg, "NOANSWER", 19)
    return await _abandon(s, chan, [], queue)


async def _abandon(s: Script, caller: Chan, ringing: Sequence[Chan], queue: str) -> str:
    """The caller hangs up while waiting: QueueCallerAbandon before the caller's Hangup, the rung phones cancelled."""
    s.queue("QueueCallerAbandon", caller, Queue=queue, Position="1", OriginalPosition="1", HoldTime=str(int(s.elapsed)))
    for leg in ringing:
        stop(s, caller, leg, "CANCEL", 16)
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
    chan = inbound(s, caller, caller_name, did, recording)
    chan = s.exten(chan, "Dial", f"PJSIP/{extension},30")
    leg = ring(s, chan, extension, None)
    await s.wait(ring_seconds)
    if answered:
        await _answer(s, chan, leg, [], None, ring_seconds, talk_seconds)
    else:
        stop(s, chan, leg, "NOANSWER", 19)
        s.hangup(chan)
        s.cdr(chan, leg, "NO ANSWER", None, "Dial")
    return chan.linkedid


async def ring_and_answer(s: Script, dialler: Chan, extension: str, ring_seconds: float) -> tuple[Chan, str]:
    """`dialler` rings `extension`, which answers after `ring_seconds`; both in a new bridge: (leg, bridge)."""
    leg = ring(s, dialler, extension, None)
    await s.wait(ring_seconds)
    leg = s.update(leg, state=6)
    s.dial("DialEnd", dialler, leg, DialStatus="ANSWER")
    bridge = s.bridge()
    s.enter(bridge, leg, 1)
    s.enter(bridge, dialler, 2)
    return leg, bridge


async def end_bridged(s: Script, caller: Chan, agent: Chan, bridge: str, talk_seconds: float,
                      answered_after: float = 0.0) -> None:
    """Talk, then the agent hangs up and the caller's side follows."""
    await s.wait(talk_seconds)
    s.enter(bridge, agent, 1, "BridgeLeave")
    s.hangup(agent)
    s.enter(bridge, caller, 0, "BridgeLeave")
    s.emit("BridgeDestroy", "call,all", bridge_frame(bridge, 0))
    s.hangup(caller)
    s.cdr(caller, agent, "ANSWERED", answered_after, "Dial")


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
