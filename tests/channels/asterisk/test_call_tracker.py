"""The call state machine on the real recordings and on the sequences they do not show."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from support.ami_recordings import RECORDINGS, recorded_events
from channels.asterisk.tracker import CallTracker, Origination
from tracker_script import Script, inbound, kinds, run
from channels.asterisk.types import (
    CallEnded, CallRinging, CallStarted, Direction, MemberPaused,
    CallOutcome, StopReason,
)


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_recorded_call_starts_once_and_ends_once(name):
    out = run(CallTracker(region="DE"), recorded_events(name))
    started = [e for e in out if isinstance(e, CallStarted)]
    ended = [e for e in out if isinstance(e, CallEnded)]
    assert len(started) == len(ended) == (10 if name == "concurrent_10_calls" else 1)
    assert {e.call_id for e in started} == {e.call_id for e in ended}
    assert all(e.caller and e.caller.startswith("+49") for e in started)


def test_queue_answered_as_recorded():
    out = run(CallTracker(region="DE"), recorded_events("queue_answered"))
    assert kinds(out) == ["CallStarted", "CallRinging", "CallAnswered", "CallEnded"]
    started, ringing, answered, ended = out
    assert (started.caller, started.caller_name, started.queue) == ("+49305551000", "Customer 1000", "sales")
    assert ringing.extension == answered.extension == "101"       # AgentCalled and DialBegin: one ring
    assert (ended.outcome, ended.answered_by, ended.rang, ended.wait_seconds, ended.talk_seconds, ended.cause) == (
        CallOutcome.ANSWERED, "101", ("101",), 2.0, 5.0, 16)


def test_direct_call_as_recorded():
    out = run(CallTracker(region="DE"), recorded_events("direct_answered"))
    assert kinds(out) == ["CallStarted", "CallRinging", "CallAnswered", "CallEnded"]
    assert out[0].queue is None and out[1].extension == "101" and out[3].outcome is CallOutcome.ANSWERED


def test_abandoned_in_queue_as_recorded():
    out = run(CallTracker(region="DE"), recorded_events("queue_abandoned"))
    calls = [e for e in out if not isinstance(e, MemberPaused)]
    assert kinds(calls) == ["CallStarted", "CallAbandoned", "CallEnded"]
    assert calls[1].wait_seconds == 6.0 and calls[2].outcome is CallOutcome.ABANDONED and calls[2].rang == ()
    pauses = [e for e in out if isinstance(e, MemberPaused)]
    assert [(p.extension, p.paused) for p in pauses] == [("101", True), ("102", True), ("101", False), ("102", False)]


def test_ring_all_retracts_the_phones_that_lost():
    s = Script()
    caller = inbound(s)
    s.add("QueueCallerJoin", caller, Queue="sales", Position="1")
    a = s.channel("PJSIP/101", linkedid=caller["Linkedid"])
    b = s.channel("PJSIP/102", linkedid=caller["Linkedid"])
    s.ring(caller, a, "sales")
    s.ring(caller, b, "sales")
    s.add("DialEnd", caller, b, DialStatus="ANSWER")
    s.add("DialEnd", caller, a, DialStatus="CANCEL")
    s.hangup(a, "26")
    s.add("AgentConnect", caller, b, Queue="sales", HoldTime="3", RingTime="3")
    for ch in (b, caller):
        s.hangup(ch)
    out = run(CallTracker(), s.events)
    assert kinds(out) == ["CallStarted", "CallRinging", "CallRinging", "CallAnswered", "RingStopped", "CallEnded"]
    assert [e.extension for e in out if isinstance(e, CallRinging)] == ["101", "102"]
    assert (out[3].extension, out[4].extension, out[4].reason) == ("102", "101", StopReason.ANSWERED_ELSEWHERE)
    assert out[0].caller == "+74951234567" and out[0].caller_name == "Иван Петров"
    assert out[-1].rang == ("101", "102") and out[-1].answered_by == "102" and out[-1].wait_seconds == 3.0


def test_ring_no_answer_rolls_over_to_the_next_agent():
    s = Script()
    caller = inbound(s)
    s.add("QueueCallerJoin", caller, Queue="sales")
    a = s.channel("PJSIP/101", linkedid=caller["Linkedid"])
    s.ring(caller, a, "sales")
    s.add("AgentRingNoAnswer", caller, a, Queue="sales", RingTime="15")
    s.add("DialEnd", caller, a, DialStatus="NOANSWER")
    s.hangup(a, "19")
    b = s.channel("PJSIP/102", linkedid=caller["Linkedid"])
    s.ring(caller, b, "sales")
    s.add("DialEnd", caller, b, DialStatus="ANSWER")
    s.hangup(b)
    s.hangup(caller)
    out = run(CallTracker(), s.events)
    assert kinds(out) == ["CallStarted", "CallRinging", "RingStopped", "CallRinging", "CallAnswered", "CallEnded"]
    assert (out[2].extension, out[2].reason) == ("101", StopReason.NO_ANSWER)
    assert out[-1].outcome is CallOutcome.ANSWERED and out[-1].rang == ("101", "102")


@pytest.mark.parametrize("status,reason", [("NOANSWER", StopReason.NO_ANSWER), ("BUSY", StopReason.BUSY)])
def test_a_direct_call_nobody_answers_is_missed(status, reason):
    s = Script()
    caller = inbound(s)
    a = s.channel("PJSIP/101", linkedid=caller["Linkedid"])
    s.ring(caller, a)
    s.add("DialEnd", caller, a, DialStatus=status)
    s.hangup(a)
    s.hangup(caller)
    out = run(CallTracker(), s.events)
    assert kinds(out) == ["CallStarted", "CallRinging", "RingStopped", "CallEnded"]
    assert out[2].reason is reason and out[3].outcome is CallOutcome.MISSED


def test_caller_hangs_up_while_an_agent_rings():
    s = Script()
    caller = inbound(s)
    s.add("QueueCallerJoin", caller, Queue="sales")
    a = s.channel("PJSIP/101", linkedid=caller["Linkedid"])
    s.ring(caller, a, "sales")
    s.add("QueueCallerAbandon", caller, Queue="sales", HoldTime="4")
    s.add("DialEnd", caller, a, DialStatus="CANCEL")
    s.hangup(a)
    s.hangup(caller)
    out = run(CallTracker(), s.events)
    assert kinds(out) == ["CallStarted", "CallRinging", "CallAbandoned", "RingStopped", "CallEnded"]
    assert out[3].reason is StopReason.CALLER_HUNG_UP and out[-1].outcome is CallOutcome.ABANDONED


def test_blind_transfer_pops_the_new_phone():
    s = Script()
    caller = inbound(s)
    a = s.channel("PJSIP/101", linkedid=caller["Linkedid"])
    s.ring(caller, a)
    s.add("DialEnd", caller, a, DialStatus="ANSWER")
    s.add("BlindTransfer", Result="Success", TransfererChannel=a["Channel"], TransfererUniqueid=a["Uniqueid"],
          TransfererLinkedid=a["Linkedid"], TransfereeChannel=caller["Channel"], TransfereeUniqueid=caller["Uniqueid"],
          TransfereeLinkedid=caller["Linkedid"], Extension="102", Context="internal", IsExternal="No")
    s.hangup(a)
    b = s.channel("PJSIP/102", linkedid=caller["Linkedid"])
    s.ring(caller, b)
    s.add("DialEnd", caller, b, DialStatus="ANSWER")
    s.hangup(b)
    s.hangup(caller)
    out = run(CallTracker(), s.events)
    assert kinds(out) == ["CallStarted", "CallRinging", "CallAnswered", "CallTransferred", "CallRinging",
                          "CallAnswered", "CallEnded"]
    assert (out[3].kind, out[3].from_extension, out[3].to_extension) == ("blind", "101", "102")
    assert out[4].extension == "102" and out[4].transfer_from == "101"
    assert out[-1].answered_by == "102" and out[-1].rang == ("101", "102")


def _click_to_call(operator_answers: bool, client_answers: bool) -> list[Any]:
    s = Script()
    tracker = CallTracker(region="RU")
    tracker.expect_origination("sb-1", Origination("101", "+79123456789", 42))
    phone = s.channel("PJSIP/101", uniqueid="sb-1")
    s.add("DialBegin", None, phone)                                 # the Originate's dial: no caller fields
    s.add("DialState", None, phone, DialStatus="RINGING")
    if operator_answers:
        s.add("DialEnd", None, phone, DialStatus="ANSWER")
        trunk = s.channel("PJSIP/trunk", linkedid="sb-1")
        s.ring(phone, trunk)
        s.add("DialEnd", phone, trunk, DialStatus="ANSWER" if client_answers else "NOANSWER")
        s.hangup(trunk)
    else:
        s.add("DialEnd", None, phone, DialStatus="NOANSWER")
    s.hangup(phone)
    return run(tracker, s.events)


def test_click_to_call_pops_the_operators_own_phone_and_records_the_client_answering():
    out = _click_to_call(True, True)
    assert kinds(out) == ["CallStarted", "CallRinging", "CallAnswered", "CallEnded"]
    started = out[0]
    assert (started.direction, started.caller, started.lead_id, started.extension) == (
        Direction.OUTBOUND, "+79123456789", 42, "101")
    assert out[1].extension == "101" and out[-1].outcome is CallOutcome.ANSWERED


@pytest.mark.parametrize("operator,client,outcome",
                         [(True, False, CallOutcome.NO_ANSWER), (False, False, CallOutcome.FAILED)])
def test_click_to_call_that_does_not_connect(operator, client, outcome):
    assert _click_to_call(operator, client)[-1].outcome is outcome


def test_a_call_between_two_desk_phones_is_not_a_lead():
    s = Script()
    a = s.channel("PJSIP/101", exten="102")
    b = s.channel("PJSIP/102", linkedid=a["Linkedid"])
    s.ring(a, b)
    s.add("DialEnd", a, b, DialStatus="ANSWER")
    s.hangup(b)
    s.hangup(a)
    assert run(CallTracker(), s.events) == []


def test_a_desk_phone_dialling_a_client_is_an_outbound_call():
    s = Script()
    a = s.channel("PJSIP/101", exten="89123456789")
    trunk = s.channel("PJSIP/trunk", linkedid=a["Linkedid"])
    s.ring(a, trunk)
    s.add("DialEnd", a, trunk, DialStatus="ANSWER")
    s.hangup(trunk)
    s.hangup(a)
    out = run(CallTracker(region="RU"), s.events)
    assert kinds(out) == ["CallStarted", "CallRinging", "CallAnswered", "CallEnded"]      # the operator is on it
    assert out[0].direction is Direction.OUTBOUND and out[0].caller == "+79123456789" and out[0].extension == "101"
    assert (out[-1].outcome, out[-1].answered_by, out[-1].holders) == (CallOutcome.ANSWERED, "101", ("101",))


def test_the_recording_file_is_reported():
    s = Script()
    caller = inbound(s)
    s.add("VarSet", caller, Variable="MIXMONITOR_FILENAME", Value="/var/spool/asterisk/monitor/x.wav")
    a = s.channel("PJSIP/101", linkedid=caller["Linkedid"])
    s.ring(caller, a)
    s.add("DialEnd", caller, a, DialStatus="ANSWER")
    s.hangup(a)
    s.hangup(caller)
    assert run(CallTracker(), s.events)[-1].recording == "/var/spool/asterisk/monitor/x.wav"


def _core_show_channels(events: list[dict[str, str]]) -> list[dict[str, str]]:
    """What CoreShowChannels would list after `events`: channels created and not hung up, latest state."""
    live: dict[str, dict[str, str]] = {}
    for ev in events:
        uid = ev.get("Uniqueid", "")
        if ev["Event"] == "Newchannel":
            live[uid] = {"Event": "CoreShowChannel", **{k: ev[k] for k in ("Channel", "Uniqueid", "Linkedid",
                                                                                "CallerIDNum", "CallerIDName")},
                         "ChannelStateDesc": ev.get("ChannelStateDesc", "Down"), "Duration": "00:00:07"}
        elif ev["Event"] == "Newstate" and uid in live:
            live[uid].update(ChannelStateDesc=ev["ChannelStateDesc"], CallerIDNum=ev["CallerIDNum"],
                             CallerIDName=ev["CallerIDName"])
        elif ev["Event"] == "Hangup":
            live.pop(uid, None)
    return list(live.values())


@pytest.mark.parametrize("cut_after", ["AgentCalled", "AgentConnect"])
def test_a_tracker_started_mid_call_adopts_it_and_reports_the_rest_once(cut_after):
    events = recorded_events("queue_answered")
    cut = next(i for i, ev in enumerate(events) if ev["Event"] == cut_after) + 1
    before, after = events[:cut], events[cut:]
    tracker = CallTracker(region="DE")
    entries = [{"Event": "QueueEntry", "Queue": "sales", "Uniqueid": ev["Uniqueid"], "Channel": ev["Channel"],
                "CallerIDNum": ev["CallerIDNum"], "CallerIDName": ev["CallerIDName"]}
               for ev in before if ev["Event"] == "QueueCallerJoin"] if cut_after == "AgentCalled" else []
    mark = tracker.begin_reconcile()
    adopted = tracker.reconcile(mark, _core_show_channels(before), entries)
    rest = run(tracker, after)
    assert kinds(adopted)[:2] == ["CallStarted", "CallRinging"]
    assert adopted[0].caller == "+49305551000" and adopted[0].origin_wait_seconds == 7.0
    assert adopted[1].extension == "101"
    everything = kinds(adopted + rest)
    assert everything.count("CallStarted") == everything.count("CallEnded") == everything.count("CallAnswered") == 1
    assert (adopted + rest)[-1].answered_by == "101"


def test_a_call_that_ended_while_disconnected_is_closed_by_reconciliation():
    events = recorded_events("queue_answered")
    cut = next(i for i, ev in enumerate(events) if ev["Event"] == "AgentCalled") + 1
    tracker = CallTracker(region="DE")
    assert kinds(run(tracker, events[:cut])) == ["CallStarted", "CallRinging"]
    mark = tracker.begin_reconcile()
    out = tracker.reconcile(mark, [], [])
    assert kinds(out) == ["RingStopped", "CallEnded"] and out[-1].outcome is CallOutcome.MISSED
    assert tracker.calls == {}


def test_a_channel_born_while_the_question_was_asked_is_not_hung_up():
    events = recorded_events("queue_answered")
    cut = next(i for i, ev in enumerate(events) if ev["Event"] == "QueueCallerJoin") + 1
    tracker = CallTracker(region="DE")
    mark = tracker.begin_reconcile()
    run(tracker, events[:cut])                    # events arrive before the (empty, older) answer
    assert tracker.reconcile(mark, [], []) == []
    assert len(tracker.calls) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({"Event": st.sampled_from(
    ["Newchannel", "Hangup", "DialBegin", "DialEnd", "DialState", "AgentCalled", "AgentConnect", "QueueCallerJoin",
     "QueueCallerAbandon", "BlindTransfer", "AttendedTransfer", "BridgeEnter", "VarSet", "QueueMemberPause", "Bogus"])},
    optional={k: st.sampled_from(["1.1", "1.2", "PJSIP/101-00000001", "", "ANSWER", "Success", "x" * 3, "Local/1@a;2"])
              for k in ("Uniqueid", "Linkedid", "Channel", "DestChannel", "DestUniqueid", "DestLinkedid",
                        "DialStatus", "Result", "Interface", "HoldTime", "Cause", "TransfereeLinkedid")}),
    max_size=40))
def test_nonsense_never_raises(events):
    tracker = CallTracker()
    for ev in events:
        tracker.feed(ev)
