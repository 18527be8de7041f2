"""Transfers and calls placed from outside, event by event: who is told what, and each operator's wait and talk."""
from __future__ import annotations

import pytest

from channels.asterisk.tracker import CallTracker
from channels.asterisk.types import CallRinging, Direction, CallOutcome, StopReason
from tracker_script import Script, Timed, inbound, kinds, run


def _attended(s: Script, complete: bool) -> list[dict[str, str]]:
    caller = inbound(s)
    a = s.channel("PJSIP/101", linkedid=caller["Linkedid"])
    s.ring(caller, a)
    s.add("DialEnd", caller, a, DialStatus="ANSWER")
    consult = s.channel("PJSIP/101", exten="102")              # the operator's second line: its own Linkedid
    b = s.channel("PJSIP/102", linkedid=consult["Linkedid"])
    s.ring(consult, b)
    s.add("DialEnd", consult, b, DialStatus="ANSWER")
    if complete:
        s.add("AttendedTransfer", Result="Success", OrigTransfererChannel=a["Channel"],
              OrigTransfererUniqueid=a["Uniqueid"], OrigTransfererLinkedid=a["Linkedid"],
              SecondTransfererChannel=consult["Channel"], SecondTransfererUniqueid=consult["Uniqueid"],
              SecondTransfererLinkedid=consult["Linkedid"], TransfereeChannel=caller["Channel"],
              TransfereeUniqueid=caller["Uniqueid"], TransfereeLinkedid=caller["Linkedid"],
              TransferTargetChannel=b["Channel"], TransferTargetUniqueid=b["Uniqueid"],
              TransferTargetLinkedid=b["Linkedid"], DestType="Bridge", IsExternal="No")
        s.hangup(a)
        s.hangup(consult)
        s.hangup(b)
        s.hangup(caller)
    else:
        s.hangup(b)
        s.hangup(consult)
        s.hangup(a)
        s.hangup(caller)
    return s.events


def test_a_desk_phones_own_second_line_consultation_pops_the_colleague_and_hands_the_call_over():
    out = run(CallTracker(), _attended(Script(), complete=True))
    assert kinds(out) == ["CallStarted", "CallRinging", "CallAnswered", "CallRinging", "CallTransferred",
                          "CallAnswered", "CallEnded"]
    call_id = out[0].call_id
    assert all(e.call_id == call_id for e in out)                  # the consultation is not a call of its own
    assert (out[3].extension, out[3].transfer_from) == ("102", "101")
    assert (out[4].kind, out[5].extension) == ("attended", "102")
    assert out[-1].answered_by == "102" and out[-1].outcome is CallOutcome.ANSWERED and out[-1].holders == ("102",)


def test_an_abandoned_second_line_consultation_leaves_the_call_with_the_first_operator():
    out = run(CallTracker(), _attended(Script(), complete=False))
    assert kinds(out) == ["CallStarted", "CallRinging", "CallAnswered", "CallRinging", "RingStopped", "CallEnded"]
    assert (out[4].extension, out[4].reason) == ("102", StopReason.TRANSFER_CANCELLED)
    assert out[-1].answered_by == "101"


@pytest.mark.parametrize("queue", [None, "sales"])
def test_talk_and_wait_are_per_leg_after_an_asterisk_22_attended_transfer(queue):
    s = Script()
    t = Timed(s)
    caller = inbound(s)
    if queue:
        s.add("QueueCallerJoin", caller, Queue=queue)
    t.after(3)
    a = s.channel("PJSIP/101", linkedid=caller["Linkedid"])
    s.ring(caller, a, queue)
    t.after(2)
    s.add("DialEnd", caller, a, DialStatus="ANSWER")
    if queue:
        s.add("AgentConnect", caller, a, Queue=queue, HoldTime="5")
    t.after(10)
    local1 = s.channel("Local/102@xfer-targets", linkedid=caller["Linkedid"], exten="102")   # *2 102: same Linkedid
    local2 = s.channel("Local/102@xfer-targets", linkedid=caller["Linkedid"], exten="102")
    b = s.channel("PJSIP/102", linkedid=caller["Linkedid"])
    s.ring(local2, b)
    t.after(4)
    s.add("DialEnd", local2, b, DialStatus="ANSWER")
    t.after(6)
    s.add("AttendedTransfer", Result="Success", OrigTransfererChannel=a["Channel"], OrigTransfererUniqueid=a["Uniqueid"],
          OrigTransfererLinkedid=a["Linkedid"], SecondTransfererChannel=a["Channel"],
          SecondTransfererUniqueid=a["Uniqueid"], SecondTransfererLinkedid=a["Linkedid"], DestType="Bridge")
    if queue:
        s.add("AgentComplete", caller, a, Queue=queue, TalkTime="20", HoldTime="5", Reason="transfer")
    for ch in (a, local1, local2):
        s.hangup(ch)
    t.after(7)
    s.hangup(b)
    s.hangup(caller)
    out = t.end()
    assert kinds(out) == ["CallStarted", "CallRinging", "CallAnswered", "CallRinging", "CallTransferred",
                          "CallAnswered", "CallEnded"]
    assert out[3].transfer_from == "101" and out[5].extension == "102"
    ended = out[-1]
    assert (ended.wait_seconds, ended.talk_seconds) == (5.0, 27.0)         # not the first agent's 20 s alone
    first, second = ended.legs
    assert (first.extension, first.wait_seconds, first.talk_seconds, first.transferred_to) == ("101", 5.0, 20.0, "102")
    assert (second.extension, second.wait_seconds, second.talk_seconds, second.transfer_from) == (
        "102", 10.0, 7.0, "101")


def test_talk_after_a_blind_transfer_is_both_operators_talk():
    s = Script()
    t = Timed(s)
    caller = inbound(s)
    s.add("QueueCallerJoin", caller, Queue="sales")
    a = s.channel("PJSIP/101", linkedid=caller["Linkedid"])
    s.ring(caller, a, "sales")
    t.after(2)
    s.add("DialEnd", caller, a, DialStatus="ANSWER")
    s.add("AgentConnect", caller, a, Queue="sales", HoldTime="2")
    t.after(8.5)
    s.add("BlindTransfer", Result="Success", TransfererChannel=a["Channel"], TransfererUniqueid=a["Uniqueid"],
          TransfereeChannel=caller["Channel"], TransfereeUniqueid=caller["Uniqueid"],
          TransfereeLinkedid=caller["Linkedid"], Extension="102")
    s.add("AgentComplete", caller, a, Queue="sales", TalkTime="8", HoldTime="2", Reason="transfer")
    s.hangup(a)
    b = s.channel("PJSIP/102", linkedid=caller["Linkedid"])
    s.ring(caller, b)
    t.after(3)
    s.add("DialEnd", caller, b, DialStatus="ANSWER")
    t.after(5)
    s.hangup(b)
    s.hangup(caller)
    ended = t.end()[-1]
    assert ended.talk_seconds == 13.0 and ended.holders == ("102",)        # the queue's whole seconds for 101
    assert [(leg.extension, leg.wait_seconds, leg.talk_seconds) for leg in ended.legs] == [
        ("101", 2.0, 8.0), ("102", 3.0, 5.0)]


def test_a_call_placed_from_outside_without_the_clients_number_is_reported_once_the_operator_dials():
    s = Script()
    op = s.channel("Local/101@agents", exten="101")
    s.add("DialBegin", None, op)                                     # no caller side, no usable DestCallerIDNum
    s.add("DialEnd", None, op, DialStatus="ANSWER")
    client = s.channel("Local/89161234567@customers", linkedid=op["Linkedid"], exten="101")
    s.ring(op, client)
    s.add("DialEnd", op, client, DialStatus="ANSWER")
    s.hangup(client)
    s.hangup(op)
    out = run(CallTracker(region="RU"), s.events)
    assert kinds(out) == ["CallStarted", "CallRinging", "CallAnswered", "CallEnded"]
    assert (out[0].direction, out[0].caller, out[0].extension) == (Direction.OUTBOUND, "+79161234567", "101")
    assert out[-1].outcome is CallOutcome.ANSWERED and out[-1].caller == "+79161234567"


def test_a_colleague_reached_through_a_local_channel_rings_once_and_talks_until_their_phone_hangs_up():
    """The consultation dialled to Local/102@xfer-targets;1, whose ;2 half dials the desk: one ring, one leg;
    the Local pair optimised away after the transfer does not end the colleague's talk."""
    s = Script()
    t = Timed(s)
    caller = inbound(s)
    a = s.channel("PJSIP/101", linkedid=caller["Linkedid"])
    s.ring(caller, a)
    s.add("DialEnd", caller, a, DialStatus="ANSWER")
    t.after(5)
    local1 = s.channel("Local/102@xfer-targets", linkedid=caller["Linkedid"], exten="102")
    local2 = s.channel("Local/102@xfer-targets", linkedid=caller["Linkedid"], exten="102")
    s.ring(a, local1)
    b = s.channel("PJSIP/102", linkedid=caller["Linkedid"])
    s.ring(local2, b)
    s.add("DialEnd", local2, b, DialStatus="ANSWER")
    s.add("DialEnd", a, local1, DialStatus="ANSWER")
    s.add("AttendedTransfer", Result="Success", OrigTransfererChannel=a["Channel"], OrigTransfererUniqueid=a["Uniqueid"],
          OrigTransfererLinkedid=a["Linkedid"], SecondTransfererChannel=a["Channel"],
          SecondTransfererUniqueid=a["Uniqueid"], SecondTransfererLinkedid=a["Linkedid"],
          TransferTargetChannel=local1["Channel"], TransferTargetUniqueid=local1["Uniqueid"], DestType="Bridge")
    for ch in (a, local1, local2):
        s.hangup(ch)
    t.after(9)
    s.hangup(b)
    s.hangup(caller)
    out = t.end()
    assert [(type(e).__name__, getattr(e, "extension", None)) for e in out if isinstance(e, CallRinging)] == [
        ("CallRinging", "101"), ("CallRinging", "102")]
    assert kinds(out)[-3:] == ["CallTransferred", "CallAnswered", "CallEnded"]
    assert [(leg.extension, leg.talk_seconds) for leg in out[-1].legs] == [("101", 5.0), ("102", 9.0)]
