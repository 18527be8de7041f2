"""The production adapter (panoramisk underneath) against an AMI server on loopback that speaks the real protocol."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from channels.asterisk.adapter import AmiAdapter, PbxUnavailable
from channels.asterisk.config import AmiConfig
from simulators.pbx.server import SimulatedPbx
from channels.asterisk.types import (
    CallAnswered, CallEnded, CallEvent, CallRinging, CallStarted, MemberPaused, CallOutcome, RingStopped,
)

SECRET = "s3cret"
# Quick reconnects; roomy pings and actions: on a busy machine a Pong can take longer than a fraction of a second,
# and a reconnect nobody asked for loses events. The watchdog's own test asks for quick pings.
FAST = {"ping_interval": 1, "ping_timeout": 60, "reconnect_min": 0.05, "reconnect_max": 0.2, "action_timeout": 60}
WATCHDOG = {"ping_interval": 0.2, "ping_timeout": 0.3}


def config(pbx: SimulatedPbx, **overrides: Any) -> AmiConfig:
    return AmiConfig(**{"host": "127.0.0.1", "port": pbx.port, "username": "switchboard", "secret": SECRET,
                        **FAST, **overrides})


class Recorder:
    def __init__(self) -> None:
        self.events: list[CallEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: CallEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def until(self, test: Any, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            while not test():
                self._changed.clear()
                await self._changed.wait()


@asynccontextmanager
async def running(pbx: SimulatedPbx, recorder: Recorder, **overrides: Any) -> AsyncIterator[AmiAdapter]:
    adapter = AmiAdapter(config(pbx, **overrides), recorder)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


@pytest.fixture
async def pbx() -> AsyncIterator[SimulatedPbx]:
    async with SimulatedPbx(username="switchboard", secret=SECRET) as running_pbx:
        yield running_pbx


async def logged_in(adapter: AmiAdapter) -> None:
    async with asyncio.timeout(60):
        await adapter.logged_in.wait()


async def test_a_recorded_queue_call_arrives_normalized_with_a_cyrillic_name_split_across_reads():
    async with SimulatedPbx(username="switchboard", secret=SECRET, split_writes=True) as pbx:
        recorder = Recorder()
        async with running(pbx, recorder) as adapter:
            await logged_in(adapter)
            await pbx.replay("queue_answered", caller="+74951234567", caller_name="Иван Петров")
            await recorder.until(lambda: recorder.of(CallEnded))
    started, = recorder.of(CallStarted)
    assert (started.caller, started.caller_name, started.queue) == ("+74951234567", "Иван Петров", "sales")
    assert [e.extension for e in recorder.of(CallRinging)] == ["101"]
    assert recorder.of(CallEnded)[0].outcome is CallOutcome.ANSWERED


async def test_garbage_on_the_wire_is_skipped_and_the_call_still_tracked(pbx):
    recorder = Recorder()
    async with running(pbx, recorder) as adapter:
        await logged_in(adapter)
        pbx.inject_garbage()
        await pbx.replay("direct_answered")
        pbx.inject_garbage()
        await pbx.replay("queue_abandoned")
        await recorder.until(lambda: len(recorder.of(CallEnded)) == 2)
        assert adapter.logins == 1                       # the garbage did not cost the connection
    assert [e.outcome for e in recorder.of(CallEnded)] == [CallOutcome.ANSWERED, CallOutcome.ABANDONED]


async def test_a_refused_login_is_reported_and_retried_with_backoff():
    async with SimulatedPbx(username="switchboard", secret="other") as pbx:
        recorder = Recorder()
        async with running(pbx, recorder) as adapter:
            # The third connection is counted when the PBX accepts it, before its login is refused: wait for both.
            async with asyncio.timeout(60):
                while pbx.connections < 3 or adapter.status == "logging in":
                    await asyncio.sleep(0.02)
            assert adapter.status == "login refused: Authentication failed"
            assert not adapter.logged_in.is_set()
            with pytest.raises(PbxUnavailable):
                await adapter.originate("101", "+79123456789")


async def test_a_silent_pbx_is_noticed_by_the_ping_watchdog_and_reconnected(pbx):
    recorder = Recorder()
    async with running(pbx, recorder, **WATCHDOG) as adapter:
        await logged_in(adapter)
        pbx.hang()
        async with asyncio.timeout(60):
            while adapter.logged_in.is_set():
                await asyncio.sleep(0.02)
        pbx.unhang()
        await logged_in(adapter)
        assert adapter.logins >= 2 and pbx.connections >= 2


async def test_a_connection_dropped_mid_call_is_reconciled_without_losing_or_repeating_the_call(pbx):
    recorder = Recorder()
    async with running(pbx, recorder) as adapter:
        await logged_in(adapter)
        call = asyncio.create_task(pbx.queue_call(caller="+74951112233", caller_name="Анна", extensions=["101"],
                                                  ring_seconds=2, talk_seconds=2))     # long enough to reconnect mid-call, even on a busy machine
        await recorder.until(lambda: recorder.of(CallRinging))
        pbx.drop()                                           # the PBX keeps the call going without us
        await recorder.until(lambda: adapter.logins >= 2)
        await call
        await recorder.until(lambda: recorder.of(CallEnded))
    assert len(recorder.of(CallStarted)) == len(recorder.of(CallEnded)) == 1
    assert len(recorder.of(CallAnswered)) == 1 and recorder.of(CallEnded)[0].outcome is CallOutcome.ANSWERED


async def test_a_restart_in_mid_call_adopts_the_call_from_core_show_channels(pbx):
    first, second = Recorder(), Recorder()
    async with running(pbx, first) as adapter:
        await logged_in(adapter)
        call = asyncio.create_task(pbx.queue_call(caller="+74951112233", extensions=["101"],
                                                  ring_seconds=3, talk_seconds=0.2))   # still ringing when the new process asks
        await first.until(lambda: first.of(CallRinging))
    async with running(pbx, second) as adapter:             # a new process: knows nothing
        await second.until(lambda: second.of(CallRinging))
        await call
        await second.until(lambda: second.of(CallEnded))
    assert second.of(CallStarted)[0].call_id == first.of(CallStarted)[0].call_id
    assert second.of(CallStarted)[0].caller == "+74951112233"


async def test_ring_all_and_rollover_over_the_wire(pbx):
    recorder = Recorder()
    async with running(pbx, recorder) as adapter:
        await logged_in(adapter)
        await pbx.ring_all(caller="+74950000001", extensions=["101", "102"], answered_by="102")
        await pbx.rollover(caller="+74950000002", extensions=["101", "102"])
        await recorder.until(lambda: len(recorder.of(CallEnded)) == 2)
    stops = [(e.extension, e.reason.value) for e in recorder.of(RingStopped)]
    assert ("101", "answered_elsewhere") in stops and ("101", "no_answer") in stops
    assert [e.answered_by for e in recorder.of(CallEnded)] == ["102", "102"]


async def test_click_to_call_is_an_originate_and_its_channels_are_the_call(pbx):
    recorder = Recorder()
    async with running(pbx, recorder) as adapter:
        await logged_in(adapter)
        call_id = await adapter.originate("101", "+79123456789", lead_id=7, caller_name='Иван "Ваня"')
        await recorder.until(lambda: recorder.of(CallEnded))
    [action] = [a for a in pbx.actions if a.get("Action") == "Originate"]
    assert (action["Channel"], action["Exten"], action["ChannelId"]) == ("PJSIP/101", "+79123456789", call_id)
    started, = recorder.of(CallStarted)
    assert (started.call_id, started.lead_id, started.direction.value) == (call_id, 7, "outbound")
    assert recorder.of(CallRinging)[0].extension == "101"


async def test_queue_pause_both_ways(pbx):
    recorder = Recorder()
    async with running(pbx, recorder) as adapter:
        await logged_in(adapter)
        assert await adapter.queue_pause("101", True, "lunch")
        await pbx.pause_on_phone("PJSIP/102", "meeting")
        await recorder.until(lambda: len(recorder.of(MemberPaused)) >= 2)
        assert not await adapter.queue_pause("999", True, "lunch")      # not a member anywhere
    pauses = {(e.extension, e.paused, e.reason) for e in recorder.of(MemberPaused)}
    assert ("101", True, "lunch") in pauses and ("102", True, "meeting") in pauses
    [action] = [a for a in pbx.actions if a.get("Action") == "QueuePause" and a.get("Interface") == "PJSIP/101"]
    assert (action["Paused"], action["Reason"]) == ("true", "lunch")


async def test_a_hundred_concurrent_calls(pbx):
    recorder = Recorder()
    async with running(pbx, recorder) as adapter:
        await logged_in(adapter)
        async with asyncio.timeout(300):
            await asyncio.gather(*(pbx.replay("queue_answered", caller=f"+7495000{i:04d}") for i in range(100)))
        await recorder.until(lambda: len(recorder.of(CallEnded)) == 100, timeout=120)
    assert len({e.call_id for e in recorder.of(CallStarted)}) == 100
    assert all(e.outcome is CallOutcome.ANSWERED for e in recorder.of(CallEnded))


@pytest.mark.parametrize("system_write", [True, False])
async def test_the_adapter_filters_events_at_the_pbx_or_drops_them_itself_when_refused(system_write, caplog):
    async with SimulatedPbx(username="switchboard", secret=SECRET, system_write=system_write) as pbx:
        recorder = Recorder()
        async with running(pbx, recorder) as adapter:
            await logged_in(adapter)
            async with asyncio.timeout(60):
                while not any(a.get("Action") == "CoreShowChannels" for a in pbx.actions):
                    await asyncio.sleep(0.01)        # the filter is asked for before the reconciliation
            [asked] = [a for a in pbx.actions if a.get("Action") == "Filter"]
            assert "AgentCalled" in asked["Filter"] and "MIXMONITOR_FILENAME" in asked["Filter"]
            fed: list[str] = []
            feed = adapter._feed
            adapter._feed = lambda event: (fed.append(event["Event"]), feed(event))   # type: ignore[method-assign]
            adapter._manager.on_event = adapter._feed
            await pbx.replay("queue_answered", caller="+74951234568")
            await recorder.until(lambda: recorder.of(CallEnded))
    assert [type(e).__name__ for e in recorder.events][:2] == ["CallStarted", "CallRinging"]
    assert not {"Newexten", "DeviceStateChange", "Cdr"} & set(fed) and "AgentCalled" in fed
    refusal = [r for r in caplog.records if "refused an event filter" in r.getMessage()]
    assert bool(refusal) is not system_write and all("eventfilter = " in r.getMessage() for r in refusal)
