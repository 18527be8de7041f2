"""Voice through the whole service: an AMI peer on loopback, the production adapter, the hub, real screens."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from simulators.pbx.server import SimulatedPbx
from crm_store.ingest import StoreUnavailable
from crm_store.models import Interaction, RoutingTask
from crm_store.types import Role
from gateway.keys import AMI, SESSIONS, VOICE
from support.bounded import within
from support.screens import screen

SECRET = "s3cret"


@pytest.fixture
async def pbx() -> AsyncIterator[SimulatedPbx]:
    running = SimulatedPbx(username="switchboard", secret=SECRET)
    await running.start()
    try:
        yield running
    finally:
        await within(running.close(), "the simulated PBX's close")


@pytest.fixture
def settings_overrides(pbx: SimulatedPbx) -> dict[str, Any]:
    return {
        "ami": {"host": "127.0.0.1", "port": pbx.port, "username": "switchboard", "secret": SECRET,
                "ping_interval": 0.5, "reconnect_min": 0.05, "reconnect_max": 0.2},
        "routing": {"queues": {"default": {"offer_timeout": 5, "owner_wait_seconds": 0}}},
        "forms": {"busy": {"rate_per_minute": 100000, "burst": 1000}},
    }


@pytest.fixture
async def voice(api) -> Any:  # type: ignore[no-untyped-def]
    await api.add_user("olga", Role.OPERATOR, extension="101")
    await api.add_user("pavel", Role.OPERATOR, extension="102")
    async with asyncio.timeout(5):
        await api.client.app[AMI].logged_in.wait()
    return api


async def voice_calls(api) -> list[Interaction]:  # type: ignore[no-untyped-def]
    async with api.client.app[SESSIONS]() as session:
        return list(await session.scalars(select(Interaction).where(Interaction.channel == "voice")
                                          .order_by(Interaction.id)))


async def settled(api) -> None:  # type: ignore[no-untyped-def]
    await api.client.app[VOICE].drain()


async def card_of(screen: Any, ringing: dict[str, Any]) -> dict[str, Any]:
    """The call's card: in the pop if it was at hand, else in the `call.card` that follows it."""
    if ringing["card"] is not None and ringing["lead_id"] is not None:
        return ringing["card"]
    late = await screen.expect("call.card", keep_others=True)
    assert late["call_id"] == ringing["call_id"] and late["lead_id"] is not None
    return late["card"]


async def test_queue_call_pops_the_card_only_on_the_ringing_phone_and_is_stored_once(voice, pbx):
    async with screen(voice, "olga") as olga, screen(voice, "pavel") as pavel:
        await voice.client.post("/forms/busy", data={"phone": "+74951234567", "name": "Иван", "message": "hi"})
        await voice.client.app[VOICE].drain()
        await pbx.replay("queue_answered", caller="+74951234567", caller_name="Иван Петров")
        ringing = await olga.expect("call.ringing")
        assert (ringing["caller"], ringing["caller_name"], ringing["extension"]) == ("+74951234567", "Иван Петров", "101")
        card = await card_of(olga, ringing)
        assert card["contact"]["identities"][0]["value"] == "+74951234567"
        assert any(item["channel"] == "form" for item in card["timeline"])      # the client's history comes along
        assert (await olga.expect("call.answered"))["call_id"] == ringing["call_id"]
        ended = await olga.expect("call.ended")
        assert ended["outcome"] == "answered" and ended["talk_seconds"] == 5.0
        assert await pavel.quiet("call.ringing", 0.3)
    await settled(voice)
    [call] = await voice_calls(voice)
    assert call.lead_id == card["lead"]["id"]
    a = call.attributes
    assert (a["direction"], a["queue"], a["outcome"], a["rang"], a["answered_extension"]) == (
        "inbound", "sales", "answered", ["101"], "101")
    assert a["wait_seconds"] == 2.0 and a["talk_seconds"] == 5.0


async def test_ring_all_retracts_from_the_phone_that_lost(voice, pbx):
    async with screen(voice, "olga") as olga, screen(voice, "pavel") as pavel:
        await pbx.ring_all(caller="+74957654321", caller_name="Ольга Клиент", extensions=["101", "102"],
                                     answered_by="102")
        first, second = await olga.expect("call.ringing"), await pavel.expect("call.ringing")
        assert first["call_id"] == second["call_id"]
        assert (await card_of(olga, first))["contact"]["display_name"] == "Ольга Клиент"
        stopped = await olga.expect("call.ring_stopped")
        assert (stopped["call_id"], stopped["reason"]) == (first["call_id"], "answered_elsewhere")
        assert (await pavel.expect("call.answered"))["call_id"] == first["call_id"]
        assert await olga.quiet("call.answered", 0.2)


async def test_a_first_time_caller_gets_a_card_too(voice, pbx):
    async with screen(voice, "olga") as olga:
        await pbx.replay("direct_answered", caller="+74990000000", caller_name="Новый Клиент")
        ringing = await olga.expect("call.ringing")
        assert (ringing["caller"], ringing["caller_name"]) == ("+74990000000", "Новый Клиент")   # from memory
        assert (await card_of(olga, ringing))["contact"]["display_name"] == "Новый Клиент"


async def test_missed_calls_owe_one_callback_offered_owner_first_and_it_closes_when_the_client_is_reached(voice, pbx):
    api = voice
    async with screen(api, "olga") as olga, screen(api, "pavel", available=False):
        # (The recorded abandon pauses every member on the PBX first; a synthetic one leaves presence alone.)
        await pbx.abandoned(caller="+74951230000", extensions=["102"])
        offer = await olga.expect("offer.created")
        assert offer["channel"] == "voice"
        await pbx.abandoned(caller="+74951230000", extensions=["102"])      # again: collapses
        await settled(api)
        assert await olga.quiet("offer.created", 0.3)
        async with api.client.app[SESSIONS]() as session:
            callbacks = list(await session.scalars(select(RoutingTask).where(RoutingTask.kind == "callback")))
        assert len(callbacks) == 1 and callbacks[0].lead_id == offer["lead_id"]
        await olga.send("offer.decline", offer_id=offer["offer_id"])
        await pbx.replay("queue_answered", caller="+74951230000")            # the client got through
        await olga.expect("call.ended")
        await settled(api)
    async with api.client.app[SESSIONS]() as session:
        state = await session.scalar(select(RoutingTask.state).where(RoutingTask.kind == "callback"))
        calls = await session.scalar(select(func.count()).select_from(Interaction).where(
            Interaction.channel == "voice", Interaction.lead_id == offer["lead_id"]))
    assert state == "canceled" and calls == 3


async def test_click_to_call_rings_the_operator_then_dials_the_client(voice, pbx):
    api = voice
    await api.add_user("sveta", Role.SUPERVISOR, extension="103")
    headers = await api.login("sveta")
    response = await api.client.post("/forms/busy", data={"phone": "+79161112233", "name": "Клиент"})
    lead_id = (await response.json())["lead_id"]
    async with screen(api, "sveta", available=False) as olga:
        response = await api.client.post("/api/v1/calls", json={"lead_id": lead_id}, headers=headers)
        assert response.status == 202, await response.text()
        call_id = (await response.json())["call_id"]
        ringing = await olga.expect("call.ringing")
        assert (ringing["call_id"], ringing["lead_id"], ringing["direction"]) == (call_id, lead_id, "outbound")
        ended = await olga.expect("call.ended", timeout=5)
        assert ended["outcome"] == "answered"
    [action] = [a for a in pbx.actions if a.get("Action") == "Originate"]
    assert (action["Channel"], action["Exten"], action["ChannelId"]) == ("PJSIP/103", "+79161112233", call_id)
    await settled(api)
    [call] = await voice_calls(api)
    assert call.lead_id == lead_id and call.attributes["direction"] == "outbound" and call.direction == "outbound"


async def test_click_to_call_refusals(voice, pbx):
    api = voice
    await api.add_user("noext", Role.MANAGER)
    response = await api.client.post("/forms/busy", data={"phone": "+79161112244"})
    lead_id = (await response.json())["lead_id"]
    response = await api.client.post("/api/v1/calls", json={"lead_id": lead_id}, headers=await api.login("noext"))
    assert response.status == 409 and (await response.json())["error"]["code"] == "no_extension"
    response = await api.client.post("/api/v1/calls", json={"lead_id": lead_id}, headers=await api.login("olga"))
    assert response.status == 403                     # an operator calls only the clients they may see
    await api.add_user("sveta", Role.SUPERVISOR, extension="103")
    sveta = await api.login("sveta")
    response = await api.client.post("/api/v1/calls", json={"lead_id": lead_id, "number": "abc"}, headers=sveta)
    assert response.status == 422
    response = await api.client.post("/api/v1/calls", json={"lead_id": 999999}, headers=sveta)
    assert response.status == 404
    assert not [a for a in pbx.actions if a.get("Action") == "Originate"]


async def test_presence_follows_the_phone_both_ways(voice, pbx):
    api = voice
    async with screen(api, "olga") as olga, screen(api, "pavel") as pavel:
        await olga.send("presence.set", presence="lunch", reason="lunch")
        await olga.expect("presence.set.ok")
        def olga_paused() -> list[dict[str, Any]]:
            return [a for a in pbx.actions if a.get("Action") == "QueuePause" and a.get("Interface") == "PJSIP/101"
                    and a.get("Paused") == "true"]

        async with asyncio.timeout(20):
            while not olga_paused():
                await asyncio.sleep(0.02)
        assert olga_paused()[-1]["Reason"] == "lunch"
        await pbx.pause_on_phone("PJSIP/102", "meeting")
        async with asyncio.timeout(20):
            while True:
                changed = await pavel.expect("presence.changed")
                if changed["presence"] == "break":
                    break
        assert changed["reason"] == "meeting"


async def test_an_answered_call_makes_the_operator_busy_for_voice(voice, pbx):
    api = voice
    async with screen(api, "pavel") as pavel:
        task = asyncio.create_task(pbx.queue_call(caller="+74951119999", extensions=["102"],
                                                          ring_seconds=0.05, talk_seconds=0.8))
        await pavel.expect("call.answered")
        async with asyncio.timeout(60):
            while (await pavel.expect("presence.changed")).get("activity") != "on_call":
                pass
        await task
        await pavel.expect("call.ended")


def hold_pause(pbx, seconds: float, until: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
    """The simulated PBX's pauses of `seconds` (a ring, a talk) last until `until` is set, however busy the machine."""
    real_pause = pbx.pause

    async def pause(length: float) -> None:
        if length == seconds:
            await asyncio.wait_for(until.wait(), 60)
        else:
            await real_pause(length)

    pbx.pause = pause


async def test_a_screen_that_reconnects_while_the_phone_rings_gets_the_card_again(voice, pbx):
    api = voice
    gate = asyncio.Event()       # the PBX keeps the phone ringing until the screen is back
    hold_pause(pbx, 30.0, gate)
    task = asyncio.create_task(pbx.queue_call(caller="+74951118888", extensions=["101"],
                                              ring_seconds=30.0, talk_seconds=0.1))
    async with screen(api, "olga") as olga:
        first = await olga.expect("call.ringing")
    async with screen(api, "olga", available=False) as olga:
        again = await olga.expect("call.ringing")
        assert again["call_id"] == first["call_id"] and again["card"] is not None and again["lead_id"] is not None
        gate.set()
    await task


async def test_the_wallboard_shows_calls_in_progress_and_callbacks_owed(voice, pbx):
    api = voice
    await api.add_user("sveta", Role.SUPERVISOR)
    headers = await api.login("sveta")
    read = asyncio.Event()       # the PBX keeps the call in talk until the wallboard was read
    hold_pause(pbx, 30.0, read)
    async with screen(api, "olga") as olga, screen(api, "pavel", available=False) as pavel:
        await pbx.abandoned(caller="+74951237777", extensions=["102"], queue="sales")
        await olga.expect("offer.created")
        talk = asyncio.create_task(pbx.queue_call(caller="+74951236666", caller_name="Пётр", extensions=["102"],
                                                  ring_seconds=0.05, talk_seconds=30.0))
        await pavel.expect("call.answered")
        stats = await (await api.client.get("/api/v1/queues/stats", headers=headers)).json()
        read.set()
        await talk
    [pavel] = [a for a in stats["agents"] if a.get("call")]
    assert pavel["call"]["caller"] == "+74951236666" and pavel["call"]["queue"] == "sales"
    waiting = {name: q.get("callbacks_waiting") for name, q in stats["queues"].items()}
    assert sum(v or 0 for v in waiting.values()) == 1, waiting


@pytest.mark.parametrize("kind", ["blind", "attended"])
async def test_a_transfer_pops_the_colleague_and_the_call_ends_as_theirs(voice, pbx, kind):
    api = voice
    transfer = pbx.blind_transfer if kind == "blind" else pbx.attended_transfer
    async with screen(api, "olga") as olga, screen(api, "pavel") as pavel:
        await transfer(caller="+74951235555", caller_name="Марина", extension="101", target="102")
        first = await olga.expect("call.ringing")
        moved = await pavel.expect("call.ringing")
        assert moved["call_id"] == first["call_id"] and moved["transfer_from"] == "101"
        assert (await card_of(pavel, moved))["contact"]["display_name"] == "Марина"
        assert (await olga.expect("call.transferred"))["to_extension"] == "102"
        assert (await pavel.expect("call.answered"))["call_id"] == first["call_id"]
        await pavel.expect("call.ended")
    await settled(api)
    [call] = await voice_calls(api)
    a = call.attributes
    assert a["answered_extension"] == "102" and a["rang"] == ["101", "102"]
    assert [(t["kind"], t["from"], t["to"]) for t in a["transfers"]] == [(kind, "101", "102")]


async def test_a_click_to_call_the_operator_does_not_pick_up_ends_as_failed(voice, pbx):
    api = voice
    pbx.originate_outcome = "operator_no_answer"
    await api.add_user("sveta", Role.SUPERVISOR, extension="103")
    response = await api.client.post("/forms/busy", data={"phone": "+79160001122"})
    lead_id = (await response.json())["lead_id"]
    async with screen(api, "sveta", available=False) as sveta:
        response = await api.client.post("/api/v1/calls", json={"lead_id": lead_id}, headers=await api.login("sveta"))
        assert response.status == 202
        assert (await sveta.expect("call.ringing"))["direction"] == "outbound"
        ended = await sveta.expect("call.ended")
        assert ended["outcome"] == "failed" and not ended["missed"]
    await settled(api)
    async with api.client.app[SESSIONS]() as session:
        kinds = list(await session.scalars(select(RoutingTask.kind)))
    assert "callback" not in kinds                  # our own failed call owes nobody a callback


async def test_a_call_whose_record_cannot_be_written_is_logged_once_and_stores_nothing(voice, pbx, monkeypatch, caplog):
    service = voice.client.app[VOICE]

    async def refused(request: Any) -> Any:
        raise StoreUnavailable("the disk is full")
    monkeypatch.setattr(service._ingestor, "ingest", refused)
    with caplog.at_level(logging.ERROR, logger="gateway.voice.service"):
        await pbx.replay("direct_answered", caller="+74990000777")
        await settled(voice)
    failed = [r for r in caplog.records if "its record could not be written" in r.getMessage()]
    # Once for the call, with the store's error, however many of its events waited for the record.
    assert len(failed) == 1 and isinstance(failed[0].exc_info[1], StoreUnavailable)
    assert await voice_calls(voice) == []
