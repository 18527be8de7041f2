"""The calls the screen-pop bench places: the recorded Asterisk 22 queue call replayed through the simulated PBX
with its real timing, and bare frames for the relay floor; the clock that stamps each call's AgentCalled as it
leaves and its pop and card as they arrive."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from simulators.pbx import recordings
from simulators.pbx.server import SimulatedPbx
from simulators.pbx.wire import Client

RECORDING = "queue_answered"      # rings extension 101


def frame(**fields: str) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n"


def call_frames(i: int, extension: str) -> tuple[bytes, bytes, bytes, bytes]:
    """One queue call as Asterisk writes it: caller joins; agent rings; agent answers; everybody hangs up."""
    caller, agent, linked = f"PJSIP/pstn-{i:08x}", f"PJSIP/{extension}-{i:08x}", f"1800000000.{i}"
    leg = f"1800000001.{i}"
    who = {"Channel": caller, "Uniqueid": linked, "Linkedid": linked, "CallerIDNum": f"+7495{i:07d}",
           "CallerIDName": "Иван Петров", "Exten": "6000", "Context": "from-pstn"}
    dest = {"DestChannel": agent, "DestUniqueid": leg, "DestLinkedid": linked}
    join = frame(Event="Newchannel", ChannelStateDesc="Ring", **who) + frame(Event="QueueCallerJoin", Queue="sales",
                                                                             Position="1", **who)
    ring = (frame(Event="Newchannel", Channel=agent, Uniqueid=leg, Linkedid=linked, ChannelStateDesc="Down",
                  CallerIDNum="<unknown>", CallerIDName="<unknown>", Exten=extension)
            + frame(Event="AgentCalled", Queue="sales", Interface=f"PJSIP/{extension}", MemberName=extension,
                    **who, **dest))
    dial = frame(Event="DialBegin", **who, **dest) + frame(Event="DialState", DialStatus="RINGING", **who, **dest)
    answer = (frame(Event="DialEnd", DialStatus="ANSWER", **who, **dest)
              + frame(Event="AgentConnect", Queue="sales", Interface=f"PJSIP/{extension}", HoldTime="1",
                      RingTime="1", **who, **dest)
              + frame(Event="Hangup", Channel=agent, Uniqueid=leg, Linkedid=linked, Cause="16")
              + frame(Event="Hangup", Cause="16", **who))
    return join, ring, dial, answer


class Clock:
    """When each call's AgentCalled left the simulated PBX, and when its pop and its card arrived here."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.popped: dict[str, float] = {}
        self.carded: dict[str, float] = {}
        write, sent = Client._write, self.sent

        async def timed(client: Client, data: bytes) -> None:
            # Stamped as the frame goes to the socket, not when the simulator queued it behind others.
            if b"Event: AgentCalled" in data:
                sent.setdefault(data.split(b"Linkedid: ", 1)[1].split(b"\r\n", 1)[0].decode(), time.perf_counter())
            await write(client, data)

        Client._write = timed  # type: ignore[method-assign]

    def arrived(self, kind: str, data: dict[str, Any]) -> None:
        now = time.perf_counter()
        if kind == "call.ringing":
            self.popped.setdefault(data["call_id"], now)
            if data.get("card") is not None and data.get("lead_id") is not None:
                self.carded.setdefault(data["call_id"], now)
        elif kind == "call.card":
            self.carded.setdefault(data["call_id"], now)


async def replay(pbx: SimulatedPbx, number: str, linked: dict[str, str]) -> str:
    """The recorded queue call, as a new call from `number`, paced as recorded: the recording stamps its
    first and last frames only, so the ring the caller heard (its AgentConnect's RingTime) is waited before
    the agent's answer, as on the PBX, rather than sent with the ring in one burst."""
    recording = recordings.load(pbx.ami_dir / f"{RECORDING}.ami")
    frames = recording.frames
    ring = float(next(f["RingTime"] for f, _ in frames if f["Event"] == "AgentConnect"))
    anchors = [t for _, t in frames if t is not None]
    callers = {recording.caller: number} if recording.caller else {}
    rewriter = recordings._Rewriter(pbx, time.time() - anchors[0], callers)
    loop, start, linkedid, called, answered = asyncio.get_running_loop(), None, "", False, False
    for frame, moment in frames:
        start = loop.time() if start is None else start
        if moment is not None:
            await asyncio.sleep(max(0.0, start + moment - anchors[0] - loop.time()))
        if called and not answered and frame["Event"] == "DialEnd" and frame.get("DialStatus") == "ANSWER":
            answered = True
            await asyncio.sleep(ring)
        called = called or frame["Event"] == "AgentCalled"
        fresh = rewriter.frame(frame)
        if not linkedid and fresh.get("Linkedid"):
            linkedid = fresh["Linkedid"]
            linked[linkedid] = number
        pbx.emit(fresh)
        await pbx.backpressure()
    return linkedid


async def replay_calls(pbx: SimulatedPbx, rate: float, seconds: float, numbers: Callable[[int], str],
                       linked: dict[str, str], pending: list[asyncio.Task[str]] | None = None) -> None:
    """Recorded queue calls at `rate` per second; `linked[linkedid]` = its caller. With `pending`, returns once
    the last call has started, its calls still going on in the tasks put there (--quick); else once all ended."""
    loop = asyncio.get_running_loop()
    tasks, start_at = [], loop.time()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start_at + n / rate - loop.time()))
        tasks.append(asyncio.create_task(replay(pbx, numbers(n), linked)))
    if pending is None:
        await asyncio.gather(*tasks)
    else:
        pending += tasks


async def run_calls(write: asyncio.StreamWriter, rate: float, seconds: float, extensions: list[str],
                    sent: dict[str, float], first: int) -> None:
    """Calls at `rate` per second; `sent[linkedid]` is when its AgentCalled frame left this process."""
    loop = asyncio.get_running_loop()

    async def one(i: int) -> None:
        join, ring, dial, answer = call_frames(i, extensions[i % len(extensions)])
        write.write(join)
        await asyncio.sleep(0.02)
        write.write(ring)
        await write.drain()
        sent[f"1800000000.{i}"] = time.perf_counter()
        write.write(dial)
        await asyncio.sleep(0.2)
        write.write(answer)

    tasks, start_at = [], loop.time()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start_at + n / rate - loop.time()))
        tasks.append(asyncio.create_task(one(first + n)))
    await asyncio.gather(*tasks)
