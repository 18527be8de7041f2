"""Every call shape the simulated PBX plays, through the whole service: when a call ends, its lead has someone.

Simulated PBX -> production adapter and tracker -> voice service -> websocket frames -> the stored call; on
SQLite and PostgreSQL. Calls belong to whoever takes them (issue 16); the screens are told what Asterisk 22
really does (issue 17): transfers, aborted consultations, calls placed from outside Switchboard.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from crm_store.models import Contact, Interaction, Lead, Reservation, RoutingTask
from crm_store.routing_log import OPEN_TASK_STATES
from crm_store.types import Role
from gateway.keys import SESSIONS
from simulators.pbx.server import SimulatedPbx
from support.screens import screen
from test_voice import card_of, pbx, settings_overrides, settled, voice  # noqa: F401  (fixtures)

Shape = Callable[[SimulatedPbx, str], Awaitable[str]]

# name -> (how the PBX plays it for a caller, the extension that should end up with the lead or None: a task)
SHAPES: dict[str, tuple[Shape, str | None]] = {
    "queue": (lambda p, n: p.queue_call(caller=n, extensions=["101"]), "101"),
    "queue recorded": (lambda p, n: p.replay("queue_answered", caller=n), "101"),
    "ring-all": (lambda p, n: p.ring_all(caller=n, extensions=["101", "102"], answered_by="102"), "102"),
    "rollover": (lambda p, n: p.rollover(caller=n, extensions=["101", "102"]), "102"),
    "direct": (lambda p, n: p.direct_call(caller=n, extension="101"), "101"),
    "direct missed": (lambda p, n: p.direct_call(caller=n, extension="101", answered=False), None),
    "abandoned": (lambda p, n: p.abandoned(caller=n, extensions=["101", "102"]), None),
    "direct to a phone of nobody": (lambda p, n: p.direct_call(caller=n, extension="555"), None),
    "blind transfer": (lambda p, n: p.blind_transfer(caller=n, extension="101", target="102"), "102"),
    "blind transfer to a phone of nobody": (lambda p, n: p.blind_transfer(caller=n, extension="101", target="555"),
                                            "101"),
    "attended transfer": (lambda p, n: p.attended_transfer(caller=n, extension="101", target="102", queue="sales"),
                          "102"),
    "consultation not answered": (lambda p, n: p.attended_transfer(caller=n, extension="101", target="102",
                                                                   outcome="no_answer"), "101"),
    "consultation taken back": (lambda p, n: p.attended_transfer(caller=n, extension="101", target="102",
                                                                 outcome="taken_back"), "101"),
    "placed from outside": (lambda p, n: p.external_call(extension="101", number=n), "101"),
    "placed from outside, client away": (lambda p, n: p.external_call(extension="101", number=n,
                                                                      outcome="client_no_answer"), "101"),
    "placed from outside, operator away": (lambda p, n: p.external_call(extension="101", number=n,
                                                                        outcome="operator_no_answer"), "101"),
}


async def the_call(api: Any, number: str) -> Interaction:  # type: ignore[no-untyped-def]
    """The call with this client, once its end is stored (the PBX's last frame may still be on its way)."""
    async with asyncio.timeout(20):
        while True:
            await settled(api)
            async with api.client.app[SESSIONS]() as session:
                calls = [i for i in await session.scalars(select(Interaction).where(Interaction.channel == "voice"))
                         if i.attributes.get("source_id") == number]
            if calls and all(i.attributes.get("status") == "ended" for i in calls):
                assert len(calls) == 1, calls
                return calls[0]
            await asyncio.sleep(0.02)


async def lead_state(api: Any, lead_id: int) -> tuple[Lead, Contact, list[RoutingTask]]:  # type: ignore[no-untyped-def]
    async with api.client.app[SESSIONS]() as session:
        lead = await session.get(Lead, lead_id)
        contact = await session.get(Contact, lead.contact_id)
        tasks = list(await session.scalars(select(RoutingTask).where(RoutingTask.lead_id == lead_id,
                                                                     RoutingTask.state.in_(OPEN_TASK_STATES))))
    return lead, contact, tasks


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_when_a_call_ends_its_lead_has_an_assignee_or_an_open_task(voice, pbx, shape):
    api = voice
    users = {"101": 1, "102": 2}
    play, holder = SHAPES[shape]
    number = "+7916555" + str(list(SHAPES).index(shape)).zfill(4)
    await play(pbx, number)
    call = await the_call(api, number)
    lead, contact, tasks = await lead_state(api, call.lead_id)
    assert lead.assignee_id is not None or tasks, f"{shape}: lead {lead.id} left with nobody"
    if holder is None:
        assert lead.assignee_id is None and [t.kind for t in tasks] == ["callback"]
    else:
        ids = {ext: uid for ext, uid in users.items()}
        assert lead.assignee_id == ids[holder] and lead.status == "assigned"
        # Nobody owned the client: the first to answer does (the lead itself follows a transfer, the client stays).
        first = "101" if "transfer" in shape else holder
        assert contact.owner_id == ids[first] == lead.owner_id
    outbound = shape.startswith("placed from outside")
    assert call.direction == ("outbound" if outbound else "inbound")


async def test_the_operator_whose_phone_rings_may_open_the_lead_then_and_after_and_answering_is_handled_work(voice, pbx):
    api = voice
    await api.add_user("ivan", Role.OPERATOR, extension="104")
    await api.add_user("sveta", Role.SUPERVISOR)
    olga, ivan, sveta = await api.login("olga"), await api.login("ivan"), await api.login("sveta")
    async with screen(api, "olga") as olga_screen, screen(api, "pavel") as pavel_screen:
        await pbx.ring_all(caller="+74957650001", extensions=["101", "102"], answered_by="102")
        ringing = await olga_screen.expect("call.ringing")
        lead_id = (await card_of(olga_screen, ringing))["lead"]["id"]
        await pavel_screen.expect("call.ended")
        await settled(api)
        # Olga's phone rang (she lost the ring to Pavel): she may open the lead; Ivan's never rang.
        assert (await api.client.get(f"/api/v1/leads/{lead_id}", headers=olga)).status == 200
        assert (await api.client.get(f"/api/v1/leads/{lead_id}", headers=ivan)).status == 403
        stats = await (await api.client.get("/api/v1/queues/stats", headers=sveta)).json()
    handled = {row["display_name"]: row["handled_today"] for row in stats["agents"]}
    assert handled["pavel"] == 1 and handled["olga"] == 0
    async with api.client.app[SESSIONS]() as session:
        accepted = list(await session.scalars(select(Reservation).where(Reservation.outcome == "accepted")))
    assert [(r.agent_id, r.explanation["call_id"]) for r in accepted] == [(2, ringing["call_id"])]
