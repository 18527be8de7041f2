"""Transfers and calls placed from outside Switchboard, as Asterisk 22 plays them, on the screens and in the record."""
from __future__ import annotations

import asyncio

from sqlalchemy import select

from channels.asterisk.adapter import AmiAdapter
from channels.asterisk.config import AmiConfig
from crm_store.models import Interaction, Lead, RoutingTask
from crm_store.types import Role
from gateway.keys import SESSIONS
from support.screens import screen
from test_voice import SECRET, card_of, pbx, settings_overrides, settled, voice, voice_calls  # noqa: F401


async def test_an_attended_transfer_keeps_the_first_operator_until_it_completes_then_tells_them_once(voice, pbx):
    api = voice
    async with screen(api, "olga") as olga, screen(api, "pavel") as pavel:
        await pbx.attended_transfer(caller="+74951235501", caller_name="Марина", extension="101", target="102",
                                    queue="sales", talk_seconds=0.2, consult_seconds=0.1)
        first = await olga.expect("call.ringing")
        await olga.expect("call.answered")
        consultation = await pavel.expect("call.ringing")
        assert (consultation["call_id"], consultation["transfer_from"]) == (first["call_id"], "101")
        assert (await card_of(pavel, consultation))["contact"]["display_name"] == "Марина"
        assert (await olga.expect("call.transferred"))["to_extension"] == "102"
        assert (await pavel.expect("call.answered"))["call_id"] == first["call_id"]
        await pavel.expect("call.ended")
        await settled(api)
        assert await olga.quiet("call.ended", 0.3)          # told when it left her, and nothing more
        assert await pavel.quiet("call.answered", 0.1)      # answered once, when the transfer completed
    [call] = await voice_calls(api)
    a = call.attributes
    legs = [(leg["extension"], leg["user_id"], leg["answered"], leg["transfer_from"], leg["transferred_to"])
            for leg in a["legs"]]
    assert legs == [("101", 1, True, None, "102"), ("102", 2, True, "101", None)]
    assert a["talk_seconds"] == round(sum(leg["talk_seconds"] for leg in a["legs"]), 3) > 0
    assert a["legs"][1]["talk_seconds"] > 0 and a["answered_by"] == 2


async def test_a_blind_transfer_frees_the_first_operator_at_once_and_tells_them_once(voice, pbx):
    api = voice
    async with screen(api, "olga") as olga, screen(api, "pavel") as pavel:
        await pbx.blind_transfer(caller="+74951235502", extension="101", target="102", talk_seconds=0.1)
        await olga.expect("call.transferred")
        assert (await pavel.expect("call.ringing"))["transfer_from"] == "101"
        await pavel.expect("call.ended")
        await settled(api)
        assert await olga.quiet("call.ended", 0.3)
    [call] = await voice_calls(api)
    assert [leg["transferred_to"] for leg in call.attributes["legs"]] == ["102", None]


async def test_an_aborted_consultation_leaves_the_call_with_the_first_operator(voice, pbx):
    api = voice
    async with screen(api, "olga") as olga, screen(api, "pavel") as pavel:
        await pbx.attended_transfer(caller="+74951235503", extension="101", target="102", outcome="taken_back")
        await pavel.expect("call.ringing")
        assert (await pavel.expect("call.ring_stopped"))["reason"] == "transfer_cancelled"
        assert (await olga.expect("call.ended"))["outcome"] == "answered"
        await settled(api)
        assert await pavel.quiet("call.ended", 0.3) and await olga.quiet("call.transferred", 0.1)
    [call] = await voice_calls(api)
    assert [(leg["extension"], leg["answered"]) for leg in call.attributes["legs"]] == [("101", True), ("102", False)]
    async with api.client.app[SESSIONS]() as session:
        assert (await session.get(Lead, call.lead_id)).assignee_id == 1


async def test_a_transfer_to_a_phone_nobody_sits_at_leaves_the_lead_with_the_operator(voice, pbx):
    api = voice
    async with screen(api, "olga") as olga:
        await pbx.blind_transfer(caller="+74951235504", extension="101", target="555")
        assert (await olga.expect("call.transferred"))["to_extension"] == "555"
        await settled(api)
        assert await olga.quiet("call.ended", 0.5)
    [call] = await voice_calls(api)
    assert call.attributes["legs"][1]["user_id"] is None
    async with api.client.app[SESSIONS]() as session:
        assert (await session.get(Lead, call.lead_id)).assignee_id == 1


async def test_a_call_placed_from_outside_is_the_operators_outbound_call_and_settles_the_callback(voice, pbx):
    api = voice
    async with screen(api, "olga", available=False) as olga, screen(api, "pavel", available=False):
        await pbx.abandoned(caller="+79161235505", extensions=["102"])        # the client is owed a callback
        await settled(api)
        await pbx.external_call(extension="101", number="+79161235505")
        ringing = await olga.expect("call.ringing")
        assert (ringing["direction"], ringing["caller"]) == ("outbound", "+79161235505")
        await olga.expect("call.answered")
        assert (await olga.expect("call.ended"))["outcome"] == "answered"
        await settled(api)
    missed, placed = await voice_calls(api)
    assert missed.lead_id == placed.lead_id and placed.direction == "outbound"
    assert placed.attributes["outcome"] == "answered"
    async with api.client.app[SESSIONS]() as session:
        callback = await session.scalar(select(RoutingTask).where(RoutingTask.kind == "callback"))
        lead = await session.get(Lead, placed.lead_id)
    assert callback.state == "canceled" and lead.assignee_id == 1


async def test_a_click_to_call_sent_by_a_process_without_the_voice_lease_is_tracked_on_its_lead(voice, pbx):
    api = voice
    await api.add_user("sveta", Role.SUPERVISOR, extension="103")
    lead_id = (await (await api.client.post("/forms/busy", data={"phone": "+79161235506"})).json())["lead_id"]
    other = AmiAdapter(AmiConfig(host="127.0.0.1", port=pbx.port, username="switchboard", secret=SECRET)
                       .in_region("RU"), lambda event: None)
    await other.start()
    try:
        async with asyncio.timeout(10):
            await other.logged_in.wait()
        async with screen(api, "sveta", available=False) as sveta:
            call_id = await other.originate("103", "+79161235506", lead_id=lead_id)
            ringing = await sveta.expect("call.ringing")
            assert (ringing["call_id"], ringing["lead_id"], ringing["direction"]) == (call_id, lead_id, "outbound")
            assert (await sveta.expect("call.ended"))["outcome"] == "answered"
    finally:
        await other.stop()
    await settled(api)
    calls = [c for c in await voice_calls(api) if c.event_id == call_id]
    assert [(c.lead_id, c.direction) for c in calls] == [(lead_id, "outbound")]
    async with api.client.app[SESSIONS]() as session:
        form = await session.scalar(select(Interaction).where(Interaction.channel == "form"))
    assert form.lead_id == lead_id


async def test_a_consultation_the_colleague_does_not_answer_leaves_the_call_with_the_first_operator(voice, pbx):
    api = voice
    async with screen(api, "olga") as olga, screen(api, "pavel") as pavel:
        await pbx.attended_transfer(caller="+74951235507", extension="101", target="102", outcome="no_answer",
                                    talk_seconds=0.1, ring_seconds=0.1)
        first = await olga.expect("call.ringing")
        await olga.expect("call.answered")
        consultation = await pavel.expect("call.ringing")
        assert (consultation["call_id"], consultation["transfer_from"]) == (first["call_id"], "101")
        stopped = await pavel.expect("call.ring_stopped")
        assert (stopped["call_id"], stopped["reason"]) == (first["call_id"], "transfer_cancelled")
        assert (await olga.expect("call.ended"))["outcome"] == "answered"
        await settled(api)
        assert await olga.quiet("call.transferred", 0.3)      # the call never left her
        assert await pavel.quiet("call.answered", 0.1) and await pavel.quiet("call.ended", 0.1)
    [call] = await voice_calls(api)
    assert [(leg["extension"], leg["answered"]) for leg in call.attributes["legs"]] == [("101", True), ("102", False)]
    assert call.attributes["answered_by"] == 1 and call.attributes["transfers"] == []
    async with api.client.app[SESSIONS]() as session:
        assert (await session.get(Lead, call.lead_id)).assignee_id == 1
