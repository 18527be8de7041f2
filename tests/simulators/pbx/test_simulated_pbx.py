"""The simulated PBX against the real panoramisk client (and raw sockets where bytes matter), on loopback."""
from __future__ import annotations

import asyncio
import re
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulators.pbx.scenarios import demo_calls
from simulators.pbx.recordings import load
from simulators.pbx.server import AMI_DIR, SimulatedPbx, encode
from support.ami_client import CALL_EVENTS, SECRET, Client


async def raw_frames(reader: asyncio.StreamReader) -> AsyncIterator[dict[str, str]]:
    """Frames read straight off the socket (the banner line comes alone)."""
    frame: dict[str, str] = {}
    while line := await reader.readline():
        text = line.decode("utf-8").rstrip("\r\n")
        if not text and frame:
            yield frame
            frame = {}
        elif text.startswith("Asterisk Call Manager/"):
            yield {"Banner": text}
        elif ": " in text:
            key, _, value = text.partition(": ")
            frame[key] = value


async def raw_session(pbx: SimulatedPbx, *actions: dict[str, str]) -> list[dict[str, str]]:
    """Send actions on a bare socket and read every frame until the PBX closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", pbx.port)
    for action in actions:
        writer.write(encode(action))
    frames = []
    async with asyncio.timeout(60):
        async for frame in raw_frames(reader):
            frames.append(frame)
    writer.close()
    return frames


# -- the protocol ---------------------------------------------------------------------------------------


async def test_login_is_accepted_and_followed_by_fully_booted(pbx, client):
    await client.until(lambda: bool(client.of("FullyBooted")))
    assert pbx.logins == pbx.connections == 1
    async with asyncio.timeout(60):
        await pbx.wait_logged_in(1)


async def test_a_wrong_secret_is_refused_and_the_pbx_hangs_up(pbx):
    refused = Client(pbx, secret="wrong")
    reply = await refused.login()
    assert (reply.response, reply.message) == ("Error", "Authentication failed")
    refused.manager.close()
    frames = await raw_session(pbx, {"Action": "Login", "ActionID": "l1", "Username": "switchboard", "Secret": "x"})
    assert frames == [{"Banner": "Asterisk Call Manager/11.0.0"},
                      {"Response": "Error", "ActionID": "l1", "Message": "Authentication failed"}]
    assert pbx.logins == 0


async def test_actions_before_login_unknown_actions_and_logoff(pbx):
    frames = await raw_session(
        pbx, {"Action": "Ping", "ActionID": "p0"},
        {"Action": "Login", "ActionID": "l1", "Username": "switchboard", "Secret": SECRET, "Events": "off"},
        {"Action": "Frobnicate", "ActionID": "f1"}, {"ActionID": "n1"}, {"Action": "Logoff", "ActionID": "o1"})
    by_id = {f.get("ActionID"): f for f in frames}
    assert by_id["p0"]["Message"] == "Permission denied"
    assert by_id["l1"]["Message"] == "Authentication accepted"
    assert by_id["f1"]["Response"] == "Error" and by_id["f1"]["Message"].startswith("Invalid/unknown command")
    assert by_id["n1"]["Message"] == "Missing action in request"
    assert by_id["o1"]["Response"] == "Goodbye"
    assert not [f for f in frames if "Event" in f]          # Events: off -- not even FullyBooted


async def test_ping(client):
    reply = await client.send({"Action": "Ping"})
    assert (reply.response, reply.ping) == ("Success", "Pong") and float(reply.timestamp) > 0


# -- recordings -------------------------------------------------------------------------------------------


async def test_a_replayed_recording_arrives_in_order_with_fresh_ids_each_time(pbx, client):
    first = await pbx.replay("queue_answered")
    second = await pbx.replay("queue_answered", caller="+74951234567")
    await client.until(lambda: len(client.of("Cdr")) == 6)
    story = client.story(first)
    wanted = ["Newchannel", "QueueCallerJoin", "AgentCalled", "DialBegin", "AgentConnect", "BridgeEnter",
              "AgentComplete", "Hangup"]
    positions = [story.index(kind) for kind in wanted[:-1]] + [len(story) - 1 - story[::-1].index("Hangup")]
    assert positions == sorted(positions) and story[-1] == "Hangup"
    assert story == client.story(second)
    ids = [{e["Uniqueid"] for e in client.of("Newchannel", linkedid=lid)} for lid in (first, second)]
    assert first != second and not ids[0] & ids[1] and len(ids[0]) == 4
    names = [{e["Channel"] for e in client.of("Newchannel", linkedid=lid)} for lid in (first, second)]
    assert not names[0] & names[1]
    assert {e["CallerIDNum"] for e in client.of("QueueCallerJoin", linkedid=second)} == {"+74951234567"}
    assert "+49305551000" not in str(client.of(*CALL_EVENTS, linkedid=second))


async def test_a_cyrillic_caller_name_survives_writes_split_inside_its_characters():
    async with SimulatedPbx(username="switchboard", secret=SECRET, split_writes=True) as pbx:
        pieces = pbx.chunks(encode({"CallerIDName": "Иван Петров"}))
        assert any(_cut_inside_a_character(p) for p in pieces)
        reader, writer = await asyncio.open_connection("127.0.0.1", pbx.port)
        writer.write(encode({"Action": "Login", "Username": "switchboard", "Secret": SECRET}))
        await pbx.wait_logged_in()
        linkedid = await pbx.replay("queue_answered", caller="+74951234567", caller_name="Иван Петров")
        received = bytearray()
        async with asyncio.timeout(60):
            while received.count(b"Event: Cdr") < 3 or not received.endswith(b"\r\n\r\n"):
                received += await reader.read(65536)
        writer.close()
    text = received.decode("utf-8")            # strict: any broken character would raise
    joins = [b for b in text.split("\r\n\r\n") if b.startswith("Event: QueueCallerJoin")]
    assert "CallerIDName: Иван Петров" in joins[0] and f"Linkedid: {linkedid}" in joins[0]


def _cut_inside_a_character(piece: bytes) -> bool:
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


async def test_replay_at_real_speed_keeps_the_recorded_gaps():
    async with SimulatedPbx(username="switchboard", secret=SECRET, speed=20.0) as pbx:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await pbx.replay("sip_queue_abandoned")          # about 7 s of call at 20x
        assert 0.2 < loop.time() - started < 2.0


# -- state the PBX reports ---------------------------------------------------------------------------------


async def test_core_show_channels_lists_exactly_the_live_channels(pbx, client):
    call = pbx.spawn(pbx.queue_call(caller="+74950000001", extensions=["101"], ring_seconds=3))   # rings while we ask
    await client.until(lambda: bool(client.of("DialState")))
    live = {e["Uniqueid"] for e in client.of("Newchannel")} - {e["Uniqueid"] for e in client.of("Hangup")}
    reply = await client.send({"Action": "CoreShowChannels"})
    start, *items, complete = reply
    assert (start.response, start.eventlist, start.message) == ("Success", "start", "Channels will follow")
    assert {i.uniqueid for i in items} == live and len(live) == 2
    assert (complete.event, complete.eventlist, complete.listitems) == ("CoreShowChannelsComplete", "Complete", "2")
    ringing = next(i for i in items if i.channel.startswith("PJSIP/101-"))
    assert ringing.channelstatedesc == "Ringing" and re.fullmatch(r"00:00:0\d", ringing.duration), ringing.duration
    assert ringing.linkedid == call_linkedid(items)
    assert all(i.actionid == start.actionid for i in reply)
    await call
    start, complete = await client.send({"Action": "CoreShowChannels"})
    assert complete.listitems == "0"


def call_linkedid(items: list[Any]) -> str:
    return next(i.linkedid for i in items if i.channel.startswith("PJSIP/pstn-"))


async def test_queue_status_members_pauses_and_waiting_callers(pbx, client):
    reply = await client.send({"Action": "QueuePause", "Interface": "PJSIP/101", "Paused": "true", "Reason": "lunch"})
    assert (reply.response, reply.message) == ("Success", "Interface paused successfully")
    await client.until(lambda: bool(client.of("QueueMemberPause")))
    pause, = client.of("QueueMemberPause")
    assert (pause["Queue"], pause["Interface"], pause["Paused"], pause["PausedReason"]) == (
        "sales", "PJSIP/101", "1", "lunch")
    missing = await client.send({"Action": "QueuePause", "Interface": "PJSIP/999", "Paused": "true"})
    assert (missing.response, missing.message) == ("Error", "Interface not found")

    call = pbx.spawn(pbx.queue_call(caller="+74950000002", caller_name="Анна", extensions=["102"],
                                    wait_seconds=0.3))
    await client.until(lambda: bool(client.of("QueueCallerJoin")))
    start, *items, complete = await client.send({"Action": "QueueStatus", "Queue": "sales"})
    assert start.message == "Queue status will follow" and complete.event == "QueueStatusComplete"
    members = {i.location: i for i in items if i.event == "QueueMember"}
    assert (members["PJSIP/101"].paused, members["PJSIP/101"].pausedreason, members["PJSIP/101"].name) == (
        "1", "lunch", "Agent 101")
    assert members["PJSIP/102"].paused == "0"
    entry, = [i for i in items if i.event == "QueueEntry"]
    assert (entry.queue, entry.position, entry.calleridnum, entry.calleridname) == (
        "sales", "1", "+74950000002", "Анна")
    assert [i.queue for i in items if i.event == "QueueParams"] == ["sales"]
    await call
    _, *items, _ = await client.send({"Action": "QueueStatus"})
    assert not [i for i in items if i.event == "QueueEntry"]
    assert [i.queue for i in items if i.event == "QueueParams"] == ["sales", "support"]


async def test_a_pause_made_on_the_phone_reaches_the_client(pbx, client):
    await pbx.pause_on_phone("PJSIP/102", "meeting")
    await client.until(lambda: bool(client.of("QueueMemberPause")))
    event, = client.of("QueueMemberPause")
    assert (event["MemberName"], event["Paused"], event["PausedReason"]) == ("Agent 102", "1", "meeting")


# -- transport tricks -----------------------------------------------------------------------------------------------


async def test_drop_closes_the_connection_while_the_call_goes_on(pbx):
    reader, writer = await asyncio.open_connection("127.0.0.1", pbx.port)
    writer.write(encode({"Action": "Login", "Username": "switchboard", "Secret": SECRET}))
    await pbx.wait_logged_in()
    # Rings long enough that a busy machine still drops the connection while it rings.
    call = pbx.spawn(pbx.queue_call(caller="+74950000008", extensions=["101"], ring_seconds=3))
    async with asyncio.timeout(60):
        while len(pbx.channels) < 2:
            await asyncio.sleep(0.01)
    pbx.drop()
    async with asyncio.timeout(60):
        while await reader.read(65536):
            pass                                  # EOF (or reset): the PBX hung up on us
    assert len(pbx.channels) == 2                 # the call did not notice
    await call
    assert not pbx.channels
    writer.close()


async def test_hang_stops_answering_pings_until_unhang(pbx, client):
    pbx.hang()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await client.manager.send_action({"Action": "Ping"})
    pbx.unhang()
    reply = await client.send({"Action": "Ping"})
    assert reply.ping == "Pong"


async def test_garbage_between_frames_does_not_stop_the_events(pbx, client):
    pbx.inject_garbage()
    await pbx.replay("direct_answered")
    await client.until(lambda: len(client.of("Cdr")) >= 1 and len(client.of("Hangup")) == 4)
    assert "DialEnd" in client.story()


async def test_events_go_to_every_logged_in_client(pbx, client):
    second = Client(pbx)
    await second.login()
    await pbx.wait_logged_in(2)
    await pbx.direct_call(caller="+74950000009")
    await client.until(lambda: len(client.of("Hangup")) == 2)
    await second.until(lambda: len(second.of("Hangup")) == 2)
    assert client.story() == second.story()
    second.manager.close()


async def test_the_demo_plays_a_mix_of_calls_with_russian_callers():
    async with SimulatedPbx(username="switchboard", secret=SECRET, speed=500.0) as pbx:
        client = Client(pbx)
        await client.login()
        demo = asyncio.create_task(demo_calls(pbx, every_seconds=5.0, rng=random.Random(7)))
        await client.until(lambda: len(client.of("Cdr")) >= 6)
        demo.cancel()
        client.manager.close()
    joins = client.of("QueueCallerJoin")
    assert all(j["CallerIDNum"].startswith("+79") and len(j["CallerIDNum"]) == 12 for j in joins)
    assert any(ord(ch) > 0x400 for j in joins for ch in j["CallerIDName"])
    assert {"AgentConnect", "AgentComplete"} <= set(client.story())


def test_a_paced_replay_keeps_queuecallerjoin_and_agentcalled_together_as_recorded():
    """Asterisk sends them within about a millisecond; a leg's Uniqueid second must not pace a pause between."""
    recording = load(AMI_DIR / "queue_answered.ami")
    events = [frame["Event"] for frame, _ in recording.frames]
    join, called = events.index("QueueCallerJoin"), events.index("AgentCalled")
    moments = [moment for _, moment in recording.frames[join:called + 1] if moment is not None]
    assert max(moments, default=0.0) == min(moments, default=0.0)          # no anchor moves time on in between
    anchors = [moment for _, moment in recording.frames if moment is not None]
    assert anchors[-1] - anchors[0] == 8.0                                  # the call still lasts as long
