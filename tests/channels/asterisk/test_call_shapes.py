"""Call shapes a real Asterisk 22 plays, through the simulated PBX's wire into the production adapter and tracker:
attended transfers (completed, colleague not answering, taken back), blind transfers, calls placed from outside."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from channels.asterisk.types import (
    CallAnswered, CallEnded, CallRinging, CallStarted, CallTransferred, Direction, CallOutcome, RingStopped, StopReason,
)
from simulators.pbx.server import SimulatedPbx
from test_ami_adapter import SECRET, Recorder, logged_in, running


@pytest.fixture
async def pbx() -> AsyncIterator[SimulatedPbx]:
    async with SimulatedPbx(username="switchboard", secret=SECRET) as running_pbx:
        yield running_pbx


async def play(pbx: SimulatedPbx, scenario: str, **kwargs: Any) -> Recorder:
    """Run one scenario on the PBX with the adapter connected; every call event it produced."""
    recorder = Recorder()
    async with running(pbx, recorder) as adapter:
        await logged_in(adapter)
        await getattr(pbx, scenario)(**kwargs)
        await recorder.until(lambda: recorder.of(CallEnded))
    return recorder


def story(recorder: Recorder) -> list[tuple[str, str | None]]:
    """(event, extension) in order: who was told what."""
    return [(type(e).__name__, getattr(e, "extension", None) or getattr(e, "to_extension", None))
            for e in recorder.events]


@pytest.mark.parametrize("queue", [None, "sales"])
@pytest.mark.parametrize("target_named", [True, False])
async def test_an_attended_transfer_keeps_the_first_operator_busy_until_it_completes(pbx, queue, target_named):
    recorder = await play(pbx, "attended_transfer", caller="+74951230101", extension="101", target="102",
                          queue=queue, target_channel_field=target_named)
    assert story(recorder) == [("CallStarted", None), ("CallRinging", "101"), ("CallAnswered", "101"),
                               ("CallRinging", "102"), ("CallTransferred", "102"), ("CallAnswered", "102"),
                               ("CallEnded", None)]
    assert len({e.call_id for e in recorder.events}) == 1       # the consultation is part of the client's call
    consultation = recorder.of(CallRinging)[1]
    assert consultation.transfer_from == "101"
    transferred, = recorder.of(CallTransferred)
    assert (transferred.kind, transferred.from_extension) == ("attended", "101")
    ended, = recorder.of(CallEnded)
    assert (ended.outcome, ended.answered_by, ended.rang, ended.holders) == (CallOutcome.ANSWERED, "102", ("101", "102"),
                                                                            ("102",))
    first, second = ended.legs
    assert (first.extension, first.answered, first.transferred_to) == ("101", True, "102")
    assert (second.extension, second.answered, second.transfer_from) == ("102", True, "101")


@pytest.mark.parametrize("outcome", ["no_answer", "taken_back"])
async def test_an_aborted_consultation_leaves_the_call_with_the_first_operator(pbx, outcome):
    recorder = await play(pbx, "attended_transfer", caller="+74951230102", extension="101", target="102",
                          outcome=outcome)
    assert story(recorder) == [("CallStarted", None), ("CallRinging", "101"), ("CallAnswered", "101"),
                               ("CallRinging", "102"), ("RingStopped", "102"), ("CallEnded", None)]
    stopped, = recorder.of(RingStopped)
    assert stopped.reason is StopReason.TRANSFER_CANCELLED
    ended, = recorder.of(CallEnded)
    assert (ended.answered_by, ended.holders) == ("101", ("101",))
    assert [(leg.extension, leg.answered, leg.transferred_to) for leg in ended.legs] == [
        ("101", True, None), ("102", False, None)]


async def test_a_blind_transfer_tells_the_first_operator_once(pbx):
    recorder = await play(pbx, "blind_transfer", caller="+74951230103", extension="101", target="102", queue="sales")
    assert story(recorder) == [("CallStarted", None), ("CallRinging", "101"), ("CallAnswered", "101"),
                               ("CallTransferred", "102"), ("CallRinging", "102"), ("CallAnswered", "102"),
                               ("CallEnded", None)]
    ended, = recorder.of(CallEnded)
    assert ended.holders == ("102",)                              # 101 heard of it when it left them, not again
    assert [(leg.extension, leg.transferred_to, leg.transfer_from) for leg in ended.legs] == [
        ("101", "102", None), ("102", None, "101")]


@pytest.mark.parametrize("outcome,expected", [("answered", CallOutcome.ANSWERED), ("client_no_answer", CallOutcome.NO_ANSWER),
                                              ("operator_no_answer", CallOutcome.FAILED)])
async def test_a_call_placed_from_outside_is_the_dialling_operators_outbound_call(pbx, outcome, expected):
    recorder = await play(pbx, "external_call", extension="101", number="+79161234567", outcome=outcome)
    started, = recorder.of(CallStarted)
    assert (started.direction, started.caller, started.extension) == (Direction.OUTBOUND, "+79161234567", "101")
    assert [e.extension for e in recorder.of(CallRinging)] == ["101"]      # the operator's phone, with the card
    assert [e.extension for e in recorder.of(CallAnswered)] == ([] if outcome == "operator_no_answer" else ["101"])
    ended, = recorder.of(CallEnded)
    assert (ended.outcome, ended.caller, ended.holders) == (expected, "+79161234567", ("101",))


async def test_a_click_to_call_sent_by_another_process_is_tracked_with_its_lead(pbx):
    """Our own Originate, sent by a process that does not hold the voice lease: this tracker was not told."""
    recorder = Recorder()
    async with running(pbx, recorder) as adapter, running(pbx, Recorder()) as other:
        await logged_in(adapter)
        await logged_in(other)
        await other.originate("101", "+79160001122", lead_id=42)
        await recorder.until(lambda: recorder.of(CallEnded))
    started, = recorder.of(CallStarted)
    assert (started.direction, started.caller, started.extension, started.lead_id) == (
        Direction.OUTBOUND, "+79160001122", "101", 42)
    ended, = recorder.of(CallEnded)
    assert (ended.outcome, ended.holders) == (CallOutcome.ANSWERED, ("101",))
