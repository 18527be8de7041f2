"""The simulated PBX's calls as a real panoramisk client sees them: click-to-call and the synthetic scenarios."""
from __future__ import annotations

import pytest

from simulators.pbx.server import SimulatedPbx
from support.ami_client import CALL_EVENTS, SECRET, Client


# -- click-to-call -------------------------------------------------------------------------------------------


async def test_originate_plays_click_to_call_and_resolves_panoramisks_future(pbx, client):
    reply = await client.send({
        "Action": "Originate", "Channel": "PJSIP/101", "Context": "outbound", "Exten": "+79123456789",
        "Priority": "1", "CallerID": '"Иван" <+79123456789>', "Async": "true", "ChannelId": "sb-42",
        "Timeout": "30000", "Variable": ["SWITCHBOARD_LEAD=7", "SWITCHBOARD_NUMBER=+79123456789"]})
    queued, response = reply
    assert (queued.response, queued.message) == ("Success", "Originate successfully queued")
    assert (response.event, response.response, response.reason, response.uniqueid) == (
        "OriginateResponse", "Success", "4", "sb-42")
    [action] = [a for a in pbx.actions if a.get("Action") == "Originate"]
    assert action["Variable"] == ["SWITCHBOARD_LEAD=7", "SWITCHBOARD_NUMBER=+79123456789"]
    await client.until(lambda: len(client.of("Hangup")) == 2)
    # (the OriginateResponse went to the action's future, as it carries the action's ActionID)
    assert client.story() == ["Newchannel", "DialBegin", "DialEnd", "Newchannel", "DialBegin", "DialState",
                              "DialEnd", "BridgeEnter", "BridgeEnter", "Hangup", "Hangup"]
    assert {e["Linkedid"] for e in client.of("Newchannel", "Hangup", "BridgeEnter")} == {"sb-42"}
    own_dial, out_dial = client.of("DialBegin")
    assert "Channel" not in own_dial and own_dial["DestUniqueid"] == "sb-42"
    assert own_dial["DestChannel"].startswith("PJSIP/101-")
    assert out_dial["Channel"] == own_dial["DestChannel"] and out_dial["DestChannel"].startswith("PJSIP/trunk-")
    assert {e["Cause"] for e in client.of("Hangup")} == {"16"}


@pytest.mark.parametrize(("outcome", "reason", "last_dial"), [
    ("operator_no_answer", "3", "NOANSWER"), ("operator_busy", "5", "BUSY"), ("client_no_answer", "4", "NOANSWER")])
async def test_originate_outcomes(outcome, reason, last_dial):
    async with SimulatedPbx(username="switchboard", secret=SECRET, originate_outcome=outcome) as pbx:
        client = Client(pbx)
        await client.login()
        reply = await client.send({"Action": "Originate", "Channel": "PJSIP/101", "Exten": "+79123456789",
                                   "Context": "outbound", "Priority": "1", "Async": "true", "ChannelId": "sb-1"})
        await client.until(lambda: bool(client.of("Hangup")) and not pbx.channels)
        client.manager.close()
    response = reply[-1]
    assert (response.response, response.reason) == ("Success" if reason == "4" else "Failure", reason)
    assert client.of("DialEnd")[-1]["DialStatus"] == last_dial
    assert len(client.of("Newchannel")) == (2 if reason == "4" else 1)
    assert client.of("DialEnd")[-1]["DestChannel"].startswith("PJSIP/trunk-" if reason == "4" else "PJSIP/101-")


# -- synthetic calls ---------------------------------------------------------------------------------------------


async def test_ring_all_one_answers_and_the_other_is_cancelled(pbx, client):
    linkedid = await pbx.ring_all(caller="+74957654321", caller_name="Ольга", extensions=["101", "102"],
                                  answered_by="102", recording="/var/spool/asterisk/monitor/x.wav")
    await client.until(lambda: bool(client.of("Hangup")) and len(client.of("Hangup")) == 3)
    assert [e["DestChannel"][:10] for e in client.of("AgentCalled")] == ["PJSIP/101-", "PJSIP/102-"]
    assert [e["DialStatus"] for e in client.of("DialState")] == ["RINGING", "RINGING"]
    ends = [(e["DestChannel"][:9], e["DialStatus"]) for e in client.of("DialEnd")]
    assert ends == [("PJSIP/102", "ANSWER"), ("PJSIP/101", "CANCEL")]
    hangups = client.of("Hangup")
    assert hangups[0]["Channel"].startswith("PJSIP/101-") and hangups[0]["Cause"] == "26"
    assert client.of("AgentConnect")[0]["MemberName"] == "Agent 102"
    assert len(client.of("BridgeEnter")) == 2
    assert {e["Linkedid"] for e in client.of(*CALL_EVENTS)} == {linkedid}
    var, = [e for e in client.events if e.get("Variable") == "MIXMONITOR_FILENAME"]
    assert var["Value"] == "/var/spool/asterisk/monitor/x.wav" and var["Channel"].startswith("PJSIP/pstn-")


async def test_rollover_rings_out_then_the_next_phone_answers(pbx, client):
    await pbx.rollover(caller="+74950000003", extensions=["101", "102"], ring_seconds=0.05)
    await client.until(lambda: len(client.of("Hangup")) == 3)
    assert client.story() == [
        "Newchannel", "QueueCallerJoin", "Newchannel", "AgentCalled", "DialBegin", "DialState", "AgentRingNoAnswer",
        "DialEnd", "Hangup", "Newchannel", "AgentCalled", "DialBegin", "DialState", "DialEnd", "QueueCallerLeave",
        "AgentConnect", "BridgeEnter", "BridgeEnter", "AgentComplete", "Hangup", "Hangup"]
    no_answer, = client.of("AgentRingNoAnswer")
    assert (no_answer["Queue"], no_answer["Interface"], no_answer["MemberName"]) == ("sales", "PJSIP/101", "Agent 101")
    assert int(no_answer["RingTime"]) >= 50
    assert [e["DialStatus"] for e in client.of("DialEnd")] == ["NOANSWER", "ANSWER"]


@pytest.mark.parametrize("answered", [True, False])
async def test_a_direct_call_without_a_queue(pbx, client, answered):
    await pbx.direct_call(caller="+74950000004", extension="101", answered=answered)
    await client.until(lambda: len(client.of("Hangup")) == 2)
    assert not client.of("QueueCallerJoin", "AgentCalled")
    dial_end, = client.of("DialEnd")
    assert dial_end["DialStatus"] == ("ANSWER" if answered else "NOANSWER")
    assert client.of("DialBegin")[0]["DestChannel"].startswith("PJSIP/101-")
    assert len(client.of("BridgeEnter")) == (2 if answered else 0)


async def test_a_caller_abandons_while_an_agent_rings(pbx, client):
    await pbx.abandoned(caller="+74950000005", extensions=["101"])
    await client.until(lambda: len(client.of("Hangup")) == 2)
    story = client.story()
    assert story[-4:] == ["QueueCallerAbandon", "DialEnd", "Hangup", "Hangup"]
    assert client.of("DialEnd")[0]["DialStatus"] == "CANCEL"
    assert client.of("Hangup")[-1]["Channel"].startswith("PJSIP/pstn-")


async def test_blind_transfer_redials_from_the_callers_channel(pbx, client):
    linkedid = await pbx.blind_transfer(caller="+74950000006", extension="101", target="102")
    await client.until(lambda: len(client.of("Hangup")) == 3)
    transfer, = client.of("BlindTransfer")
    assert (transfer["Result"], transfer["Extension"], transfer["IsExternal"]) == ("Success", "102", "No")
    assert transfer["TransfererChannel"].startswith("PJSIP/101-")
    assert transfer["TransfereeChannel"].startswith("PJSIP/pstn-") and transfer["TransfereeLinkedid"] == linkedid
    after = client.story()[client.story().index("BlindTransfer"):]
    assert after == ["BlindTransfer", "Hangup", "Newchannel", "DialBegin", "DialState", "DialEnd", "BridgeEnter",
                     "BridgeEnter", "Hangup", "Hangup"]
    second = client.of("DialBegin")[-1]
    assert second["Channel"] == transfer["TransfereeChannel"] and second["DestChannel"].startswith("PJSIP/102-")
    assert {e["Linkedid"] for e in client.of(*CALL_EVENTS) if "Linkedid" in e} == {linkedid}


async def test_attended_transfer_consults_on_the_client_calls_linkedid_as_asterisk_22_does(pbx, client):
    linkedid = await pbx.attended_transfer(caller="+74950000007", extension="101", target="102", queue="sales")
    await client.until(lambda: len(client.of("Hangup")) == 5)
    assert {e["Linkedid"] for e in client.of(*CALL_EVENTS) if "Linkedid" in e} == {linkedid}
    consult_dial = client.of("DialBegin")[-1]
    assert consult_dial["Channel"].startswith("Local/102@xfer-targets-") and consult_dial["Channel"].endswith(";2")
    assert consult_dial["DestChannel"].startswith("PJSIP/102-")
    transfer, = client.of("AttendedTransfer")
    assert transfer["Result"] == "Success" and transfer["DestType"] == "Bridge" and transfer["IsExternal"] == "No"
    assert transfer["OrigTransfererChannel"] == transfer["SecondTransfererChannel"]
    assert transfer["OrigTransfererChannel"].startswith("PJSIP/101-")
    assert transfer["TransferTargetChannel"].startswith("Local/102@xfer-targets-")
    assert transfer["DestBridgeUniqueid"] == transfer["OrigBridgeUniqueid"] != transfer["SecondBridgeUniqueid"]
    first_agent = client.of("AgentComplete")[0]
    assert first_agent["Reason"] == "transfer" and first_agent["DestChannel"] == transfer["OrigTransfererChannel"]
    hung = [e["Channel"][:13] for e in client.of("Hangup")]
    assert hung == ["PJSIP/101-000", "Local/102@xfe", "Local/102@xfe", "PJSIP/102-000", "PJSIP/pstn-00"]
    assert not pbx.channels


@pytest.mark.parametrize("outcome", ["no_answer", "taken_back"])
async def test_an_aborted_consultation_returns_the_operator_to_the_client(pbx, client, outcome):
    await pbx.attended_transfer(caller="+74950000017", extension="101", target="102", outcome=outcome,
                                target_channel_field=False)
    await client.until(lambda: len(client.of("Hangup")) == 5)
    assert not client.of("AttendedTransfer")
    assert client.of("BridgeEnter")[-1]["Channel"].startswith("PJSIP/101-")     # back with the client
    assert client.of("Hangup")[-1]["Channel"].startswith("PJSIP/pstn-") and not pbx.channels


async def test_a_call_placed_by_another_tool_opens_without_a_caller_side(pbx, client):
    linkedid = await pbx.external_call(extension="101", number="+79161234567")
    await client.until(lambda: len(client.of("Hangup")) == 6)
    opening = client.of("DialBegin")[0]
    assert not any(key == "Channel" or key.startswith("CallerID") for key in opening)
    assert opening["DestChannel"].startswith("Local/101@agents-") and opening["DestCallerIDNum"] == "+79161234567"
    to_client = next(e for e in client.of("DialBegin") if e["DestChannel"].startswith("Local/+79161234567@customers"))
    assert to_client["Channel"] == opening["DestChannel"]
    assert {e["Linkedid"] for e in client.of(*CALL_EVENTS) if "Linkedid" in e} == {linkedid}
    assert not pbx.channels
